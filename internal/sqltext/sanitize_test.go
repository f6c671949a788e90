package sqltext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitize(t *testing.T) {
	tests := []struct {
		name, system, in, want string
	}{
		// Strings.
		{"string", "", "SELECT * FROM t WHERE a = 'secret'", "SELECT * FROM t WHERE a = ?"},
		{"doubled quote", "postgresql", "SELECT 'it''s secret' FROM t", "SELECT ? FROM t"},
		{"mysql backslash quote", "mysql", `SELECT 'O\'Brien secret' FROM t`, "SELECT ? FROM t"},
		{"mysql backslash backslash", "mysql", `SELECT 'a\\', 'b' FROM t`, "SELECT ?, ? FROM t"},
		{"postgresql backslash ends nothing", "postgresql", `SELECT 'C:\', 'b' FROM t`, "SELECT ?, ? FROM t"},
		{"postgresql E string", "postgresql", `SELECT E'it\'s secret' FROM t`, "SELECT ? FROM t"},
		{"national", "microsoft.sql_server", "SELECT N'secret'", "SELECT ?"},
		{"bit and hex strings", "postgresql", "SELECT B'1010', X'1F', x'ff'", "SELECT ?, ?, ?"},
		{"mysql charset introducer", "mysql", "SELECT _utf8mb4'secret'", "SELECT ?"},
		{"oracle q quote", "oracle.db", "SELECT q'[it's secret]' FROM dual", "SELECT ? FROM dual"},
		{"prefix word needs no quote", "", "SELECT e, n FROM t", "SELECT e, n FROM t"},
		{"select glued to string", "postgresql", "SELECT'secret'", "SELECT?"},
		{"adjacent strings", "", "SELECT 'a' 'b'", "SELECT ? ?"},
		{"dollar quoted", "postgresql", "SELECT $$secret$$", "SELECT ?"},
		{"dollar tag", "postgresql", "SELECT $fn$ it's $$ secret $fn$, 1", "SELECT ?, ?"},
		{"cast", "postgresql", "SELECT '5'::int", "SELECT ?::int"},
		{"typed literal", "postgresql", "SELECT DATE '2024-01-01', INTERVAL '1 day'", "SELECT DATE ?, INTERVAL ?"},
		{"utf8 string", "", "SELECT 'héllo wörld' FROM t", "SELECT ? FROM t"},

		// Numbers.
		{"integer", "", "SELECT * FROM t WHERE id = 42", "SELECT * FROM t WHERE id = ?"},
		{"decimal and exponent", "", "SELECT 1.5, 1.5e-3, 2E+10, .5, 5.", "SELECT ?, ?, ?, ?, ?"},
		{"hex and binary", "mysql", "SELECT 0x1F, 0b101, 0xE-1", "SELECT ?, ?, ?-?"},
		{"underscore separators", "postgresql", "SELECT 1_000_000", "SELECT ?"},
		{"negative", "", "SELECT -5, a-1", "SELECT -?, a-?"},
		{"digits in identifiers", "", "SELECT t1.col_2, x3y FROM t1 JOIN t2", "SELECT t1.col_2, x3y FROM t1 JOIN t2"},
		{"qualified digit column", "", "SELECT t1.5", "SELECT t1.?"},
		{"identifier with dollar", "postgresql", "SELECT a$1 FROM t", "SELECT a$1 FROM t"},
		{"money", "microsoft.sql_server", "SELECT $12.50", "SELECT ?"},

		// Placeholders stay.
		{"question marks", "mysql", "INSERT INTO t (a, b) VALUES (?, ?)", "INSERT INTO t (a, b) VALUES (?, ?)"},
		{"numbered", "postgresql", "SELECT * FROM t WHERE a = $1 AND b = $2", "SELECT * FROM t WHERE a = $1 AND b = $2"},
		{"sqlite forms", "sqlite", "SELECT ?1, :name, @name, $name", "SELECT ?1, :name, @name, $name"},
		{"oracle positional", "oracle.db", "SELECT * FROM t WHERE a = :1 AND b=:2", "SELECT * FROM t WHERE a = :1 AND b=:2"},
		{"sql server named", "microsoft.sql_server", "SELECT * FROM t WHERE a = @p1", "SELECT * FROM t WHERE a = @p1"},
		{"slice is not positional", "postgresql", "SELECT a[1:2] FROM t", "SELECT a[?:?] FROM t"},

		// Identifiers stay.
		{"double quoted identifier", "postgresql", `SELECT "Col 1" FROM "public"."Items 2"`, `SELECT "Col 1" FROM "public"."Items 2"`},
		{"double quoted string in mysql", "mysql", `SELECT * FROM t WHERE a = "secret"`, "SELECT * FROM t WHERE a = ?"},
		{"double quoted in sqlite", "sqlite", `SELECT * FROM t WHERE a = "secret"`, "SELECT * FROM t WHERE a = ?"},
		{"double quoted when unknown", "other_sql", `SELECT "secret"`, "SELECT ?"},
		{"backticks", "mysql", "SELECT `col 1` FROM `t2`", "SELECT `col 1` FROM `t2`"},
		{"brackets", "microsoft.sql_server", "SELECT [col 1] FROM [dbo].[t2]", "SELECT [col 1] FROM [dbo].[t2]"},
		{"brackets not identifiers", "postgresql", "SELECT a['secret'] FROM t", "SELECT a[?] FROM t"},
		{"unterminated identifier", "postgresql", `SELECT "secret`, "SELECT ?"},
		{"unterminated backtick", "mysql", "SELECT `secret", "SELECT ?"},
		{"booleans and null stay", "", "SELECT * FROM t WHERE a IS NULL AND b = TRUE OR c = false", "SELECT * FROM t WHERE a IS NULL AND b = TRUE OR c = false"},
		{"temp table", "microsoft.sql_server", "SELECT * FROM #tmp WHERE a = 1", "SELECT * FROM #tmp WHERE a = ?"},
		{"postgresql hash operator", "postgresql", "SELECT 5 # 3", "SELECT ? # ?"},

		// Comments go.
		{"line comment", "", "SELECT a -- secret 'x'\nFROM t", "SELECT a FROM t"},
		{"block comment", "", "SELECT /* secret */ a FROM t", "SELECT a FROM t"},
		{"comment separates", "", "SELECT/**/a/**/FROM/**/t", "SELECT a FROM t"},
		{"nested comment", "postgresql", "SELECT /* a /* b */ secret */ 1", "SELECT ?"},
		{"hash comment", "mysql", "SELECT a # secret\nFROM t", "SELECT a FROM t"},
		{"hash comment when unknown", "", "SELECT 1 # secret", "SELECT ?"},
		{"sqlcommenter", "", "SELECT a FROM t /*traceparent='00-secret-01'*/", "SELECT a FROM t"},
		{"mysql dashes", "mysql", "SELECT 5--1", "SELECT ?"},
		{"unterminated comment", "", "SELECT a /* secret", "SELECT a"},
		{"comment only", "", "-- secret", ""},
		{"quote in comment", "", "SELECT a /* it's */ FROM t WHERE b = 'x'", "SELECT a FROM t WHERE b = ?"},
		{"comment in string", "", "SELECT '-- not a comment', b", "SELECT ?, b"},

		// Whitespace.
		{"whitespace collapsed", "", "  SELECT\n\ta,\r\n  b\n  FROM t  \n", "SELECT a, b FROM t"},
		{"empty", "", "", ""},
		{"blank", "", " \n\t", ""},

		// IN lists.
		{"in list", "", "SELECT * FROM t WHERE id IN (1, 2, 3)", "SELECT * FROM t WHERE id IN (?)"},
		{"in list of placeholders", "mysql", "SELECT * FROM t WHERE id in (?,?,?) AND b NOT IN ( 'x' , ? )", "SELECT * FROM t WHERE id in (?) AND b NOT IN (?)"},
		{"in list of one", "", "SELECT * FROM t WHERE id IN (1)", "SELECT * FROM t WHERE id IN (?)"},
		{"in list of numbered", "postgresql", "SELECT * FROM t WHERE id IN ($1, $2)", "SELECT * FROM t WHERE id IN ($1, $2)"},
		{"in list with expression", "", "SELECT * FROM t WHERE id IN (1, 2+3)", "SELECT * FROM t WHERE id IN (?, ?+?)"},
		{"in subquery", "", "SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE x = 1)", "SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE x = ?)"},
		{"in then short word", "", "SELECT a IN i", "SELECT a IN i"},
		{"in list cut short", "", "SELECT a IN (1, 2", "SELECT a IN (?, ?"},
		{"values are not collapsed", "", "INSERT INTO t VALUES (1, 2), (3, 4)", "INSERT INTO t VALUES (?, ?), (?, ?)"},

		// Unterminated text never leaks.
		{"unterminated string", "", "SELECT * FROM t WHERE a = 'secret", "SELECT * FROM t WHERE a = ?"},
		{"unterminated escape", "mysql", `SELECT 'secret\`, "SELECT ?"},
		{"unterminated dollar", "postgresql", "SELECT $x$ secret", "SELECT ?"},
		{"unterminated q quote", "oracle.db", "SELECT q'[secret'", "SELECT ?"},
		{"dangling prefix", "", "SELECT N'", "SELECT ?"},

		// Multiple statements.
		{"two statements", "", "SELECT 1; DROP TABLE x", "SELECT ?; DROP TABLE x"},
		{"injection attempt", "", "SELECT * FROM t WHERE a = 'x'; DELETE FROM t WHERE '1'='1'", "SELECT * FROM t WHERE a = ?; DELETE FROM t WHERE ?=?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Sanitize(tt.system, tt.in)
			if got != tt.want {
				t.Errorf("Sanitize(%q, %q)\n got %q\nwant %q", tt.system, tt.in, got, tt.want)
			}
			if strings.Contains(got, "secret") {
				t.Errorf("Sanitize(%q, %q) = %q leaks", tt.system, tt.in, got)
			}
		})
	}
}

func TestSanitizeTruncates(t *testing.T) {
	long := "SELECT " + strings.Repeat("col_a, ", MaxQueryLen/7+10) + "b FROM t"
	tests := []struct {
		name, in string
		allocs   float64
	}{
		{"one line", long, 1},
		{"literals", strings.Replace(long, "col_a", "'x'", 3), 1},
		{"whitespace", strings.ReplaceAll(long, " ", "\n  "), 1},
		{"multi-byte words", "SELECT " + strings.Repeat("größe, ", MaxQueryLen/6), 1},
		{"one huge word", "SELECT " + strings.Repeat("a", 3*MaxQueryLen), 1},
		{"nothing fits", strings.Repeat("a", 3*MaxQueryLen), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Sanitize("", tt.in)
			if len(got) > MaxQueryLen {
				t.Errorf("len = %d, want <= %d", len(got), MaxQueryLen)
			}
			if !strings.HasSuffix(got, TruncationMarker) && got != TruncationMarker[1:] {
				t.Errorf("no marker: %q", got[max(0, len(got)-40):])
			}
			if !utf8.ValidString(got) {
				t.Errorf("invalid UTF-8: %q", got[max(0, len(got)-40):])
			}
			body := strings.TrimSuffix(got, TruncationMarker)
			if strings.HasSuffix(body, " ") || strings.HasSuffix(body, "col") {
				t.Errorf("cut inside a token or gap: %q", body[max(0, len(body)-40):])
			}
			if a := testing.AllocsPerRun(10, func() { Sanitize("", tt.in) }); a > tt.allocs {
				t.Errorf("allocs = %v, want <= %v", a, tt.allocs)
			}
		})
	}
}

// An IN list is collapsed even when, written out, it would pass the limit.
func TestSanitizeCollapsesLongInList(t *testing.T) {
	in := "SELECT * FROM t WHERE id IN (" + strings.Repeat("1, ", MaxQueryLen) + "1) AND b = 2"
	if got, want := Sanitize("", in), "SELECT * FROM t WHERE id IN (?) AND b = ?"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSanitizeAllocs(t *testing.T) {
	tests := []struct {
		name, in string
		want     float64
	}{
		{"parameterized", "SELECT id, name FROM users WHERE id = $1", 0},
		{"padded", "  SELECT id FROM users WHERE id = ?  \n", 0},
		{"literals", "SELECT id FROM users WHERE name = 'bob' AND age > 42", 1},
		{"multi-line", "SELECT id\n\tFROM users\n\tWHERE id = $1", 1},
		{"in list", "SELECT id FROM users WHERE id IN (?, ?, ?)", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := testing.AllocsPerRun(100, func() { Sanitize("postgresql", tt.in) }); got != tt.want {
				t.Errorf("allocs = %v, want %v", got, tt.want)
			}
		})
	}
}

// The one documented misreading: an unknown engine is read with backslash
// escapes, so a standard string ending in a backslash swallows the next
// quote. This test pins the limit; a system name avoids it.
func TestSanitizeStrictBackslashLimit(t *testing.T) {
	in := `SELECT * FROM t WHERE path = 'C:\' AND name = 'alice'`
	if got, want := Sanitize("", in), "SELECT * FROM t WHERE path = ?alice?"; got != want {
		t.Errorf("strict: got %q, want %q", got, want)
	}
	if got, want := Sanitize("postgresql", in), "SELECT * FROM t WHERE path = ? AND name = ?"; got != want {
		t.Errorf("postgresql: got %q, want %q", got, want)
	}
}
