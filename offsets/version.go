package offsets

import (
	"strconv"
	"strings"
)

// version is a parsed module version: Go versions ("go1.22.3", "go1.20",
// "go1.21rc2", "go1.23.4 X:boringcrypto") and semantic versions of
// third-party modules ("v1.10.9").
type version struct {
	nums [3]int
	pre  string // "rc2", "beta1", "-pre.1"; empty for a release
	ok   bool
}

func parseVersion(s string) version {
	// Build info appends experiments after a space: "go1.23.4 X:boringcrypto".
	if i := strings.IndexByte(s, ' '); i >= 0 {
		s = s[:i]
	}
	switch {
	case strings.HasPrefix(s, "go"):
		s = s[2:]
	case strings.HasPrefix(s, "v"):
		s = s[1:]
	default:
		return version{}
	}
	if i := strings.IndexByte(s, '+'); i >= 0 { // semver build metadata
		s = s[:i]
	}
	var v version
	for n := 0; n < 3; n++ {
		j := 0
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == 0 {
			return version{}
		}
		x, err := strconv.Atoi(s[:j])
		if err != nil {
			return version{}
		}
		v.nums[n] = x
		s = s[j:]
		if n < 2 && strings.HasPrefix(s, ".") {
			s = s[1:]
			continue
		}
		break
	}
	v.pre = s
	v.ok = true
	return v
}

// canonicalVersion maps spellings of one version to one string, so that
// "go1.20", "go1.20.0" and "go1.20.0 X:nocoverageredesign" match the same
// table entry. Unparsable input is returned unchanged.
func canonicalVersion(s string) string {
	v := parseVersion(s)
	if !v.ok {
		return s
	}
	prefix := "v"
	if strings.HasPrefix(s, "go") {
		prefix = "go"
	}
	return prefix + strconv.Itoa(v.nums[0]) + "." + strconv.Itoa(v.nums[1]) + "." + strconv.Itoa(v.nums[2]) + v.pre
}

// compareVersions orders versions numerically; a pre-release sorts before
// its release; unparsable strings sort last, by text.
func compareVersions(a, b string) int {
	va, vb := parseVersion(a), parseVersion(b)
	switch {
	case !va.ok && !vb.ok:
		return strings.Compare(a, b)
	case !va.ok:
		return 1
	case !vb.ok:
		return -1
	}
	for i := range va.nums {
		if va.nums[i] != vb.nums[i] {
			if va.nums[i] < vb.nums[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case va.pre == vb.pre:
		return strings.Compare(a, b)
	case va.pre == "":
		return 1
	case vb.pre == "":
		return -1
	}
	return comparePre(va.pre, vb.pre)
}

// comparePre orders "beta2" < "rc1" < "rc10": letters by text, then the
// trailing number by value.
func comparePre(a, b string) int {
	split := func(s string) (string, int) {
		i := len(s)
		for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
			i--
		}
		n, _ := strconv.Atoi(s[i:])
		return s[:i], n
	}
	ta, na := split(a)
	tb, nb := split(b)
	if c := strings.Compare(ta, tb); c != 0 {
		return c
	}
	switch {
	case na < nb:
		return -1
	case na > nb:
		return 1
	}
	return strings.Compare(a, b)
}
