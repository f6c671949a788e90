package funcs

import "testing"

func TestDisplayName(t *testing.T) {
	for sym, want := range map[string]string{
		"main.work":              "main.work",
		"main.(*Store).Get":      "main.(*Store).Get",
		"main.Sum[go.shape.int]": "main.Sum[...]",
		"main.Sum[...]":          "main.Sum[...]",
		"main.Map[go.shape.[]int,go.shape.string]": "main.Map[...]",
		"main.(*List[go.shape.int]).Push":          "main.(*List[...]).Push",
	} {
		if got := displayName(sym); got != want {
			t.Errorf("displayName(%q) = %q, want %q", sym, got, want)
		}
	}
}

func TestCompilePattern(t *testing.T) {
	tests := []struct {
		pattern string
		match   []string
		noMatch []string
	}{
		{"main.*", []string{"main.work", "main.(*Store).Get", "main.Sum[...]", "main.main.func1"}, []string{"main", "mainx.work", "main/sub.F", "fmt.Println"}},
		{"main.work", []string{"main.work"}, []string{"main.worker", "main.wor", "xmain.work"}},
		{"main.(*Store).Get", []string{"main.(*Store).Get"}, []string{"main.(*Store).GetAll", "main.Store.Get"}},
		{"main.(*Store).*", []string{"main.(*Store).Get", "main.(*Store).Put"}, []string{"main.Store.Get"}},
		{"main.Sum[...]", []string{"main.Sum[...]"}, []string{"main.Sum", "main.Summary"}},
		{"main.Sum", []string{"main.Sum", "main.Sum[...]"}, []string{"main.Summary"}},
		{"main.fa?t", []string{"main.fact"}, []string{"main.faact", "main.fa/t"}},
		{"github.com/x/y.*", []string{"github.com/x/y.F", "github.com/x/y.(*T).M"}, []string{"github.com/x/y/z.F"}},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			re, err := compilePattern(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range tt.match {
				if !re.MatchString(n) {
					t.Errorf("%q does not match %q", tt.pattern, n)
				}
			}
			for _, n := range tt.noMatch {
				if re.MatchString(n) {
					t.Errorf("%q matches %q", tt.pattern, n)
				}
			}
		})
	}
	if _, err := compilePattern(""); err == nil {
		t.Error("empty pattern accepted")
	}
}
