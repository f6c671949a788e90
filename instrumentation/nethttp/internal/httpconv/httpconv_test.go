package httpconv

import "testing"

func TestSplitHostPort(t *testing.T) {
	tests := []struct {
		hp, scheme string
		host       string
		port       int
	}{
		{"127.0.0.1:8080", "http", "127.0.0.1", 8080},
		{"[::1]:4000", "", "::1", 4000},
		{"example.com", "http", "example.com", 80},
		{"example.com", "https", "example.com", 443},
		{"example.com", "", "example.com", 0},
		{"::1", "", "::1", 0},
		{"[::1]", "http", "::1", 80},
		{"h:99999", "", "h", 0},
		{"", "http", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.hp+" "+tt.scheme, func(t *testing.T) {
			host, port := SplitHostPort(tt.hp, tt.scheme)
			if host != tt.host || port != tt.port {
				t.Errorf("SplitHostPort(%q, %q) = %q, %d; want %q, %d", tt.hp, tt.scheme, host, port, tt.host, tt.port)
			}
		})
	}
}

func TestMethod(t *testing.T) {
	tests := []struct {
		in, method, original string
	}{
		{"GET", "GET", ""},
		{"QUERY", "QUERY", ""},
		{"get", "_OTHER", "get"},
		{"PROPFIND", "_OTHER", "PROPFIND"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			m, orig := NormalizeMethod(tt.in)
			mb, known := MethodBytes([]byte(tt.in))
			if m != tt.method || orig != tt.original || mb != tt.method || known != (tt.original == "") {
				t.Errorf("NormalizeMethod = %q, %q; MethodBytes = %q, %v; want %q, %q", m, orig, mb, known, tt.method, tt.original)
			}
		})
	}
	if n := testing.AllocsPerRun(10, func() { MethodBytes([]byte("GET")) }); n != 0 {
		t.Errorf("MethodBytes allocates %v times", n)
	}
}

func TestProtocolVersion(t *testing.T) {
	tests := []struct {
		major, minor int64
		want         string
	}{{1, 1, "1.1"}, {1, 0, "1.0"}, {2, 0, "2"}, {3, 0, "3"}, {0, 9, ""}, {1, 2, "1.2"}}
	for _, tt := range tests {
		if got := ProtocolVersion(tt.major, tt.minor); got != tt.want {
			t.Errorf("ProtocolVersion(%d, %d) = %q, want %q", tt.major, tt.minor, got, tt.want)
		}
	}
}
