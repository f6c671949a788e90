package goexe

import (
	"errors"
	"runtime/debug"
	"testing"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    Version
		wantErr bool
	}{
		{in: "go1.22.3", want: Version{1, 22, 3}},
		{in: "go1.22", want: Version{1, 22, 0}},
		{in: "go1.21rc2", want: Version{1, 21, 0}},
		{in: "go1.18beta1", want: Version{1, 18, 0}},
		{in: "go1.23.4 X:boringcrypto", want: Version{1, 23, 4}},
		{in: "devel go1.24-3f4a1b2 Tue Jan 7 10:00:00 2025 +0000", want: Version{1, 24, 0}},
		{in: "go1.17.13", want: Version{1, 17, 13}},
		{in: "go2.0.1", want: Version{2, 0, 1}},
		{in: "", wantErr: true},
		{in: "1.22.3", wantErr: true},
		{in: "go", wantErr: true},
		{in: "go1", wantErr: true},
		{in: "go1.", wantErr: true},
		{in: "go1.x", wantErr: true},
		{in: "go1.22.", wantErr: true},
		{in: "go1.22.3.4", wantErr: true},
		{in: "go1.22x", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseVersion(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseVersion(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseVersion(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestVersionString(t *testing.T) {
	tests := []struct {
		v    Version
		want string
	}{
		{Version{1, 22, 3}, "go1.22.3"},
		{Version{1, 21, 0}, "go1.21.0"},
		{Version{1, 20, 0}, "go1.20"},
		{Version{1, 20, 14}, "go1.20.14"},
		{Version{1, 17, 0}, "go1.17"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.v.String(); got != tt.want {
				t.Errorf("%+v.String() = %q, want %q", tt.v, got, tt.want)
			}
			back, err := ParseVersion(tt.want)
			if err != nil || back != tt.v {
				t.Errorf("ParseVersion(%q) = %+v, %v; want %+v", tt.want, back, err, tt.v)
			}
		})
	}
}

func TestAtLeast(t *testing.T) {
	tests := []struct {
		v            Version
		major, minor int
		want         bool
	}{
		{Version{1, 22, 3}, 1, 22, true},
		{Version{1, 22, 0}, 1, 21, true},
		{Version{1, 21, 9}, 1, 22, false},
		{Version{1, 16, 15}, 1, 17, false},
		{Version{2, 0, 0}, 1, 30, true},
		{Version{1, 30, 0}, 2, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.v.String(), func(t *testing.T) {
			if got := tt.v.AtLeast(tt.major, tt.minor); got != tt.want {
				t.Errorf("%v.AtLeast(%d, %d) = %v, want %v", tt.v, tt.major, tt.minor, got, tt.want)
			}
		})
	}
}

func TestCheckVersion(t *testing.T) {
	tests := []struct {
		in      string
		wantErr error
	}{
		{in: "go1.17", wantErr: nil},
		{in: "go1.17.13", wantErr: nil},
		{in: "go1.26.8", wantErr: nil},
		{in: "go1.21rc2", wantErr: nil},
		{in: "go1.16.15", wantErr: ErrUnsupportedGoVersion},
		{in: "go1.17rc1", wantErr: nil},
		{in: "go1.10", wantErr: ErrUnsupportedGoVersion},
		{in: "gccgo", wantErr: ErrUnsupportedGoVersion},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := checkVersion(tt.in)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("checkVersion(%q) = %v, want %v", tt.in, err, tt.wantErr)
			}
			if err != nil {
				t.Log(err)
			}
			if err != nil && !containsAll(err.Error(), "rebuild with", "Go 1.17 or newer") {
				t.Errorf("checkVersion(%q) = %q: the message should say how to fix it", tt.in, err)
			}
		})
	}
}

func TestModules(t *testing.T) {
	bi := &debug.BuildInfo{
		Path: "example.com/app/cmd/app",
		Main: debug.Module{Path: "example.com/app", Version: "(devel)"},
		Deps: []*debug.Module{
			{Path: "example.com/plain", Version: "v1.2.3"},
			{Path: "example.com/forked", Version: "v1.0.0", Replace: &debug.Module{Path: "example.com/fork", Version: "v1.0.1-fix"}},
			{Path: "example.com/local", Version: "v0.0.0", Replace: &debug.Module{Path: "../local"}},
		},
	}
	want := map[string]string{
		"example.com/app":    "(devel)",
		"example.com/plain":  "v1.2.3",
		"example.com/forked": "v1.0.1-fix",
		"example.com/local":  "(devel)",
	}
	got := modules(bi)
	if len(got) != len(want) {
		t.Errorf("modules() = %v, want %v", got, want)
	}
	for path, v := range want {
		if got[path] != v {
			t.Errorf("modules()[%q] = %q, want %q", path, got[path], v)
		}
	}
}
