package goexe

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a Go release as recorded in a binary's build info.
type Version struct{ Major, Minor, Patch int }

// ParseVersion parses a Go version as runtime.Version and build info spell
// it: "go1.22.3", "go1.22", "go1.21rc2", "go1.23.4 X:boringcrypto", and
// "devel go1.24-abcdef ..." for toolchains built from source. Pre-releases
// and devel builds map to patch 0 of their minor release.
func ParseVersion(s string) (Version, error) {
	rest, ok := strings.CutPrefix(strings.TrimPrefix(s, "devel "), "go")
	if !ok {
		return Version{}, fmt.Errorf("parsing Go version %q: missing \"go\" prefix", s)
	}
	var v Version
	var err error
	if v.Major, rest, err = leadingInt(rest); err != nil {
		return Version{}, fmt.Errorf("parsing Go version %q: major: %w", s, err)
	}
	if rest, ok = strings.CutPrefix(rest, "."); !ok {
		return Version{}, fmt.Errorf("parsing Go version %q: missing minor version", s)
	}
	if v.Minor, rest, err = leadingInt(rest); err != nil {
		return Version{}, fmt.Errorf("parsing Go version %q: minor: %w", s, err)
	}
	if r, ok := strings.CutPrefix(rest, "."); ok {
		if v.Patch, rest, err = leadingInt(r); err != nil {
			return Version{}, fmt.Errorf("parsing Go version %q: patch: %w", s, err)
		}
	}
	// What may follow the numbers: a pre-release tag ("rc2", "beta1"), a
	// devel commit ("-abcdef") or GOEXPERIMENT settings (" X:boringcrypto").
	if rest != "" && !strings.HasPrefix(rest, "rc") && !strings.HasPrefix(rest, "beta") &&
		rest[0] != ' ' && rest[0] != '-' && rest[0] != '+' {
		return Version{}, fmt.Errorf("parsing Go version %q: unexpected %q after the version number", s, rest)
	}
	return v, nil
}

func leadingInt(s string) (int, string, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n, err := strconv.Atoi(s[:i])
	if err != nil {
		return 0, s, fmt.Errorf("expecting a number at %q", s)
	}
	return n, s[i:], nil
}

// AtLeast reports whether v is release major.minor or newer.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

// String spells v the way Go names its releases: the first release of a
// minor version is "go1.20" up to Go 1.20 and "go1.21.0" from Go 1.21 on.
func (v Version) String() string {
	if v.Patch == 0 && !v.AtLeast(1, 21) {
		return fmt.Sprintf("go%d.%d", v.Major, v.Minor)
	}
	return fmt.Sprintf("go%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// minVersion is the first release with the register ABI on amd64.
var minVersion = Version{1, 17, 0}

// checkVersion decides whether spanprobe can trace a binary built with the Go
// release spelled s. The error is for the top level: it names the version and
// says what to do.
func checkVersion(s string) (Version, error) {
	v, err := ParseVersion(s)
	if err != nil {
		return Version{}, fmt.Errorf("%w %q: rebuild with a released Go 1.17 or newer (%v)", ErrUnsupportedGoVersion, s, err)
	}
	if !v.AtLeast(minVersion.Major, minVersion.Minor) {
		return Version{}, fmt.Errorf("%w %s: rebuild with Go 1.17 or newer (spanprobe reads arguments from the register ABI)", ErrUnsupportedGoVersion, v)
	}
	return v, nil
}
