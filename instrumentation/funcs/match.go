package funcs

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/spanprobe/spanprobe/internal/goexe"
)

// MaxFuncs is how many functions one target may have probed (MAX_FUNCS in
// funcs.bpf.c): each costs microseconds per call in the target.
const MaxFuncs = 64

// displayName spells a function as go tool objdump and go tool nm do for
// every build, stripped or not: the type arguments of generic instances
// become "[...]" (.symtab says main.Sum[go.shape.int], .gopclntab
// main.Sum[...]), so one name covers every instance.
func displayName(sym string) string {
	var b strings.Builder
	depth := 0
	for _, r := range sym {
		switch {
		case r == '[':
			if depth == 0 {
				b.WriteString("[...]")
			}
			depth++
		case r == ']' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// compilePattern turns a --func pattern into a matcher of display names.
// `*` matches any run of characters but '/', `?` one such character, as in
// path.Match, so main.* matches main.(*Store).Get but not
// main/sub.F; everything else is literal, brackets included, so that
// main.Sum[...] names a generic function. A generic function may also be
// named without its brackets (main.Sum).
func compilePattern(p string) (*regexp.Regexp, error) {
	if p == "" {
		return nil, fmt.Errorf("empty --func pattern")
	}
	var re strings.Builder
	re.WriteString("^")
	for _, r := range p {
		switch r {
		case '*':
			re.WriteString("[^/]*")
		case '?':
			re.WriteString("[^/]")
		default:
			re.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	if !strings.HasSuffix(p, "]") && !strings.HasSuffix(p, "*") {
		re.WriteString(`(\[\.\.\.\])?`)
	}
	re.WriteString("$")
	return regexp.Compile(re.String())
}

// target is one function to probe.
type target struct {
	fn   goexe.Func
	name string // display name: the span name and code.function.name
}

// matchFuncs finds the functions the patterns name, in name order. A
// pattern naming more than MaxFuncs functions, or all of them together
// naming more, is an error that says how many; a pattern naming none is
// reported through noMatch.
func matchFuncs(bin *goexe.Binary, patterns []string, noMatch func(pattern string)) ([]target, error) {
	res := make([]*regexp.Regexp, len(patterns))
	for i, p := range patterns {
		re, err := compilePattern(p)
		if err != nil {
			return nil, err
		}
		res[i] = re
	}
	counts := make([]int, len(patterns))
	fns, err := bin.Funcs(func(sym string) bool {
		name, hit := displayName(sym), false
		for i, re := range res {
			if re.MatchString(name) {
				counts[i]++
				hit = true
			}
		}
		return hit
	})
	if err != nil {
		return nil, err
	}
	for i, p := range patterns {
		if counts[i] > MaxFuncs {
			return nil, fmt.Errorf("pattern %s matches %d functions, more than the limit of %d: narrow it", p, counts[i], MaxFuncs)
		}
		if counts[i] == 0 {
			noMatch(p)
		}
	}
	if len(fns) > MaxFuncs {
		return nil, fmt.Errorf("patterns %s match %d functions, more than the limit of %d: narrow them", strings.Join(patterns, " "), len(fns), MaxFuncs)
	}
	if len(fns) == 0 {
		return nil, fmt.Errorf("no function matches %s", strings.Join(patterns, " "))
	}
	ts := make([]target, len(fns))
	for i, f := range fns {
		ts[i] = target{fn: f, name: displayName(f.Name)}
	}
	slices.SortFunc(ts, func(a, b target) int {
		return strings.Compare(a.name, b.name)*2 + cmpAddr(a.fn.Addr, b.fn.Addr)
	})
	return ts, nil
}

func cmpAddr(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
