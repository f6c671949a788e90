package sqltext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzSystems are the dialects the fuzzer cycles through ("" is the strict
// one used for other_sql and unknown engines).
var fuzzSystems = [...]string{"", "postgresql", "mysql", "sqlite", "microsoft.sql_server", "oracle.db", "clickhouse"}

// plantTemplates hold no digits and no "ZQX", so neither can reach the
// output from anywhere but a planted literal. %s is where it goes.
var plantTemplates = [...]string{
	"SELECT * FROM t WHERE a = %s",
	"SELECT a, b FROM t WHERE a = %s AND b = ?",
	"INSERT INTO items (a, b) VALUES (%s, ?)",
	"UPDATE items SET a = %s WHERE id = ?",
	"SELECT * FROM t WHERE id IN (?, %s, ?)",
	"SELECT %s",
	"%s",
	"SELECT a FROM t WHERE b LIKE %s ESCAPE '!'",
	"DELETE FROM t WHERE a = %s; DROP TABLE x",
	"SELECT * FROM t WHERE a = %s -- trailing comment\n",
	"WITH x AS (SELECT %s AS v) SELECT * FROM x",
	"SELECT * FROM t WHERE a = %s AND b = %s",
	"SELECT CAST(%s AS TEXT)",
	"SELECT * FROM t WHERE a=%s",
}

const marker = "ZQX"

// plant returns a query whose only literal (or comment) carries marker and
// secret, written the way system's engine reads it; number literals are
// made of digits taken from secret instead. It reports whether the literal
// is a number.
func plant(system string, tmpl, kind uint8, secret string) (query string, number bool) {
	d := dialectOf(system)
	t := plantTemplates[int(tmpl)%len(plantTemplates)]
	s := marker + secret
	esc := func(s string, q string) string {
		if d&bsEscape != 0 {
			s = strings.ReplaceAll(s, `\`, `\\`)
		}
		return strings.ReplaceAll(s, q, q+q)
	}
	var lit string
	switch k := kind % 13; {
	case k == 1 && d&bsEscape != 0:
		lit = `'` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `'`, `\'`) + `'`
	case k == 2 && system == "postgresql":
		lit = `E'` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `'`, `\'`) + `'`
	case k == 3:
		lit = "$tg$" + strings.ReplaceAll(s, "$", "") + "$tg$"
	case k == 4 && d&dqIdent == 0:
		lit = `"` + esc(s, `"`) + `"`
	case k == 5:
		digits := []byte{'7'}
		for _, b := range []byte(secret) {
			digits = append(digits, '0'+b%10)
		}
		n := string(digits)
		forms := [...]string{n, n + "." + n, n + "e-" + n, "." + n, "0x" + n, n + "E+" + n, "-" + n}
		lit, number = forms[len(secret)%len(forms)], true
	case k == 6:
		lit = "/* " + strings.ReplaceAll(s, "*", "") + " */"
	case k == 7:
		lit = "-- " + strings.ReplaceAll(s, "\n", "") + "\n"
	case k == 8 && d&hashComment != 0:
		lit = "# " + strings.ReplaceAll(s, "\n", "") + "\n"
	case k == 9:
		lit = "N'" + esc(s, `'`) + "'"
	case k == 10 && system == "oracle.db":
		lit = "q'[" + strings.ReplaceAll(s, "]", "") + "]'"
	case k == 11:
		// Unterminated: the rest of the template is lost in the string.
		return t[:strings.Index(t, "%s")] + "'" + esc(s, `'`), false
	case k == 12 && system == "mysql":
		lit = "_utf8mb4'" + esc(s, `'`) + "'"
	default:
		lit = "'" + esc(s, `'`) + "'"
	}
	return strings.ReplaceAll(t, "%s", lit), number
}

// checkSanitized checks what holds for any input and returns the output.
func checkSanitized(t *testing.T, system, in string) string {
	t.Helper()
	out := Sanitize(system, in)
	if len(out) > MaxQueryLen {
		t.Fatalf("Sanitize(%q, %q): len %d > %d", system, in, len(out), MaxQueryLen)
	}
	truncated := strings.HasSuffix(out, TruncationMarker) || out == TruncationMarker[1:]
	if truncated && len(in) <= MaxQueryLen {
		t.Fatalf("Sanitize(%q, %q) = %q: truncated a short input", system, in, out)
	}
	if !truncated && len(out) > len(in) {
		t.Fatalf("Sanitize(%q, %q) = %q: longer than the input", system, in, out)
	}
	if utf8.ValidString(in) && !utf8.ValidString(out) {
		t.Fatalf("Sanitize(%q, %q) = %q: invalid UTF-8", system, in, out)
	}
	// The output holds no literal, comment, collapsible list or extra
	// whitespace, so sanitizing it again changes nothing.
	body := strings.TrimSuffix(out, TruncationMarker)
	if out == TruncationMarker[1:] {
		body = ""
	}
	if again := Sanitize(system, body); again != body {
		t.Fatalf("Sanitize(%q, %q) = %q, not a fixed point: again %q", system, in, body, again)
	}
	op, coll := Summarize(system, in)
	if op != "" && lookupOperation(op) != op {
		t.Fatalf("Summarize(%q, %q): operation %q not in the set", system, in, op)
	}
	if op == "" && coll != "" || len(coll) > maxCollection {
		t.Fatalf("Summarize(%q, %q) = %q, %q", system, in, op, coll)
	}
	return out
}

func FuzzSanitize(f *testing.F) {
	for _, q := range []string{
		"SELECT * FROM users WHERE id = $1",
		"SELECT a FROM t WHERE b = 'x' AND c IN (1, 2, 3) -- note\n",
		`INSERT INTO t VALUES ('it''s', 'a\'b', "dq", $$d$$, $tg$x$tg$, E'\'x', N'n', x'ff', q'[it's]')`,
		"SELECT /* a /* b */ c */ 1.5e-3, .5, 0x1F # h\n FROM `t` JOIN [u] ON \"v\".w = :1",
		"WITH x AS (SELECT 1) SELECT * FROM x; DROP TABLE y",
		"SELECT 'unterminated",
		"SELECT $12.50, @p1, ?2, :name, a[1:2], b::int",
		"SELECT héllo, 'wörld' FROM ünïcode",
		"IN (?, ?",
		strings.Repeat("SELECT a, ", 300),
		"SELECT * FROM t WHERE id IN (" + strings.Repeat("?, ", 900) + "?)",
	} {
		for i := range fuzzSystems {
			f.Add(q, "secret", uint8(i), uint8(i), uint8(i))
		}
	}
	for k := range 13 {
		f.Add("", `it's a \' "secret" $tg$ */ --`, uint8(k), uint8(k), uint8(k))
	}
	f.Fuzz(func(t *testing.T, query, secret string, sys, tmpl, kind uint8) {
		system := fuzzSystems[int(sys)%len(fuzzSystems)]
		checkSanitized(t, system, query)

		q, number := plant(system, tmpl, kind, secret)
		out := checkSanitized(t, system, q)
		if strings.Contains(out, marker) {
			t.Fatalf("Sanitize(%q, %q) = %q: the literal leaked", system, q, out)
		}
		if number && strings.ContainsAny(out, "0123456789") {
			t.Fatalf("Sanitize(%q, %q) = %q: the number leaked", system, q, out)
		}
		if _, coll := Summarize(system, q); strings.Contains(coll, marker) {
			t.Fatalf("Summarize(%q, %q): collection %q holds the literal", system, q, coll)
		}
	})
}
