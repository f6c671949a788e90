package e2e

import (
	"strconv"
	"testing"
	"time"

	"github.com/spanprobe/spanprobe/internal/otlptest"
)

// TestOTelAgentVariables configures the agent as a deployment of the
// OpenTelemetry Go agent would: the target from OTEL_GO_AUTO_TARGET_PID,
// and database statements left out with OTEL_GO_AUTO_INCLUDE_DB_STATEMENT
// =false. /db's database span must keep its operation and collection and
// carry no db.query.text.
func TestOTelAgentVariables(t *testing.T) {
	requireBPF(t)
	a := startApp(t, bins.app)
	rcv := otlptest.Start(t)
	agent := startAgent(t, append(otlpEnv(rcv.Endpoint()),
		"OTEL_GO_AUTO_TARGET_PID="+strconv.Itoa(a.pid()), "OTEL_GO_AUTO_INCLUDE_DB_STATEMENT=false"))
	waitAttached(t, agent)
	sendAll(t, a.addr, []call{{method: "GET", target: "/db", status: 200, name: "GET /db", route: "/db"}})
	spans, err := rcv.WaitForSpans(timeout(t, 30*time.Second), 2)
	if err != nil {
		t.Fatalf("waiting for /db's spans: %v", err)
	}
	agent.stop(t, 15*time.Second)
	found := false
	for _, s := range spans {
		if s.Scope != dbScope {
			continue
		}
		found = true
		attrs := s.Attrs()
		if text, ok := attrs["db.query.text"]; ok {
			t.Errorf("db.query.text = %q under OTEL_GO_AUTO_INCLUDE_DB_STATEMENT=false, want none", text)
		}
		if attrs["db.operation.name"] != "SELECT" || attrs["db.collection.name"] != "items" || s.Span.GetName() != "SELECT items" {
			t.Errorf("database span %q %v, want SELECT on items", s.Span.GetName(), attrs)
		}
	}
	if !found {
		t.Fatalf("no database span among %d spans", len(spans))
	}
}
