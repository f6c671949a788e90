package otlptest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	coltracev1 "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	resourcev1 "go.opentelemetry.io/proto/otlp/resource/v1"
	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func str(k, v string) *commonv1.KeyValue {
	return &commonv1.KeyValue{Key: k, Value: &commonv1.AnyValue{Value: &commonv1.AnyValue_StringValue{StringValue: v}}}
}

func request(service string, names ...string) *coltracev1.ExportTraceServiceRequest {
	var spans []*tracev1.Span
	for _, n := range names {
		spans = append(spans, &tracev1.Span{Name: n})
	}
	return &coltracev1.ExportTraceServiceRequest{ResourceSpans: []*tracev1.ResourceSpans{{
		Resource:   &resourcev1.Resource{Attributes: []*commonv1.KeyValue{str("service.name", service)}},
		ScopeSpans: []*tracev1.ScopeSpans{{Scope: &commonv1.InstrumentationScope{Name: "scope"}, Spans: spans}},
	}}}
}

func client(t *testing.T, r *Receiver) coltracev1.TraceServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(r.Endpoint(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return coltracev1.NewTraceServiceClient(conn)
}

func TestReceiver(t *testing.T) {
	r := Start(t)
	c := client(t, r)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	// A span that is not there yet times out with a count.
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	if _, err := r.WaitForSpans(short, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitForSpans on an empty receiver = %v, want deadline exceeded", err)
	}

	md := metadata.Pairs("x-api-key", "k1")
	if _, err := c.Export(metadata.NewOutgoingContext(ctx, md), request("a", "s1", "s2")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Export(ctx, request("b", "s3")); err != nil {
		t.Fatal(err)
	}
	spans, err := r.WaitForSpans(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range spans {
		got = append(got, s.Resource["service.name"].(string)+"/"+s.Scope+"/"+s.Span.Name)
	}
	if want := []string{"a/scope/s1", "a/scope/s2", "b/scope/s3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("spans = %v, want %v", got, want)
	}
	reqs := r.Requests()
	if len(reqs) != 2 || reqs[0].Spans != 2 || reqs[1].Spans != 1 {
		t.Fatalf("requests = %+v, want 2 requests of 2 and 1 spans", reqs)
	}
	if v := reqs[0].Metadata.Get("x-api-key"); len(v) != 1 || v[0] != "k1" {
		t.Errorf("metadata x-api-key = %v, want [k1]", v)
	}

	r.SetHook(func(context.Context, *coltracev1.ExportTraceServiceRequest) error {
		return status.Error(codes.Unavailable, "down for maintenance")
	})
	if _, err := c.Export(ctx, request("c", "s4")); status.Code(err) != codes.Unavailable {
		t.Errorf("Export with failing hook = %v, want Unavailable", err)
	}
	if n := len(r.Spans()); n != 3 {
		t.Errorf("rejected request was recorded: %d spans", n)
	}

	r.Stop()
	r.Stop() // idempotent
	back := StartAt(t, r.Endpoint())
	if back.Endpoint() != r.Endpoint() {
		t.Errorf("StartAt endpoint = %s, want %s", back.Endpoint(), r.Endpoint())
	}
}

func TestValue(t *testing.T) {
	tests := []struct {
		name string
		in   *commonv1.AnyValue
		want any
	}{
		{"nil", nil, nil},
		{"string", &commonv1.AnyValue{Value: &commonv1.AnyValue_StringValue{StringValue: "x"}}, "x"},
		{"bool", &commonv1.AnyValue{Value: &commonv1.AnyValue_BoolValue{BoolValue: true}}, true},
		{"int", &commonv1.AnyValue{Value: &commonv1.AnyValue_IntValue{IntValue: 42}}, int64(42)},
		{"double", &commonv1.AnyValue{Value: &commonv1.AnyValue_DoubleValue{DoubleValue: 0.5}}, 0.5},
		{"bytes", &commonv1.AnyValue{Value: &commonv1.AnyValue_BytesValue{BytesValue: []byte{1}}}, []byte{1}},
		{"array", &commonv1.AnyValue{Value: &commonv1.AnyValue_ArrayValue{ArrayValue: &commonv1.ArrayValue{
			Values: []*commonv1.AnyValue{{Value: &commonv1.AnyValue_IntValue{IntValue: 1}}}}}}, []any{int64(1)}},
		{"kvlist", &commonv1.AnyValue{Value: &commonv1.AnyValue_KvlistValue{KvlistValue: &commonv1.KeyValueList{
			Values: []*commonv1.KeyValue{str("k", "v")}}}}, map[string]any{"k": "v"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Value(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Value = %#v, want %#v", got, tt.want)
			}
		})
	}
}
