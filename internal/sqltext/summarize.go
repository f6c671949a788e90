package sqltext

import "strings"

// operations are the statement keywords Summarize reports, as it reports
// them. Anything else gives no operation: db.operation.name must stay a
// small set.
var operations = [...]string{
	"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "UPSERT", "REPLACE", "WITH",
	"CREATE", "DROP", "ALTER", "TRUNCATE", "RENAME", "COMMENT",
	"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE",
	"PRAGMA", "EXPLAIN", "DESCRIBE", "SHOW", "SET", "RESET", "USE",
	"CALL", "EXEC", "EXECUTE", "DO", "PREPARE", "DEALLOCATE", "DECLARE", "FETCH",
	"GRANT", "REVOKE", "ANALYZE", "VACUUM", "REINDEX", "CLUSTER", "CHECKPOINT",
	"COPY", "LOAD", "LOCK", "UNLOCK", "LISTEN", "NOTIFY", "UNLISTEN", "DISCARD",
	"ATTACH", "DETACH", "REFRESH", "OPTIMIZE", "KILL", "VALUES", "TABLE",
}

// maxCollection bounds db.collection.name: past it the "name" is more
// likely garbage than a table.
const maxCollection = 256

// Summarize returns the statement's operation, upper-cased from the set
// above, and the table it acts on, or empty strings when it cannot tell.
// The table is the first one the statement names: FROM for SELECT and
// DELETE, INTO for INSERT, REPLACE, MERGE and UPSERT, the target of UPDATE,
// CREATE TABLE, CREATE INDEX ... ON, DROP TABLE, ALTER TABLE and TRUNCATE.
// For WITH it reports the main statement. Quoted identifiers are unquoted,
// qualified names keep their dots, and a subquery or table function in the
// table's place gives no table. Only the first statement is read.
//
// It allocates only for a name with escaped quotes or a qualified name
// with quoted parts.
func Summarize(system, query string) (operation, collection string) {
	d := dialectOf(system)
	if d&dqTable != 0 {
		d |= dqIdent
	}
	l := lexer{s: query, d: d}
	t := l.sig()
	for t.kind == kPunct && query[t.start] == '(' {
		t = l.sig()
	}
	if t.kind != kWord {
		return "", ""
	}
	op := lookupOperation(query[t.start:t.end])
	if op == "WITH" {
		if op = mainStatement(&l); op == "" {
			return "WITH", ""
		}
	}
	return op, l.collection(op)
}

func lookupOperation(word string) string {
	for _, op := range operations {
		if eqFold(word, op) {
			return op
		}
	}
	return ""
}

// mainStatement skips a WITH's common table expressions: at depth 0 they
// hold only names, AS, MATERIALIZED, commas and parentheses.
func mainStatement(l *lexer) string {
	depth := 0
	for {
		t := l.sig()
		switch {
		case t.kind == kEOF, t.kind == kPunct && l.s[t.start] == ';' && depth == 0:
			return ""
		case t.kind == kPunct && l.s[t.start] == '(':
			depth++
		case t.kind == kPunct && l.s[t.start] == ')':
			depth = max(depth-1, 0)
		case t.kind == kWord && depth == 0:
			switch op := lookupOperation(l.s[t.start:t.end]); op {
			case "SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "VALUES":
				return op
			}
		}
	}
}

// collection reads the table of the op whose keyword was just read.
func (l *lexer) collection(op string) string {
	switch op {
	case "SELECT":
		if l.skipTo("FROM") {
			return l.table(true)
		}
	case "DELETE":
		saved := *l
		if l.skipTo("FROM") {
			return l.table(true)
		}
		*l = saved // SQL Server: DELETE t WHERE ...
		return l.table(false)
	case "INSERT", "REPLACE", "UPSERT", "MERGE", "UPDATE":
		// INSERT [LOW_PRIORITY | IGNORE | OR REPLACE ...] [INTO] t
		for {
			saved := *l
			t := l.sig()
			if t.kind != kWord {
				return ""
			}
			switch w := l.s[t.start:t.end]; {
			case eqFold(w, "INTO"):
				return l.table(false)
			case isModifier(w):
			default:
				*l = saved
				return l.table(false)
			}
		}
	case "CREATE":
		// CREATE [OR REPLACE] [TEMP | UNLOGGED | VIRTUAL ...] TABLE
		// [IF NOT EXISTS] t, CREATE [UNIQUE] INDEX ... ON t
		for {
			t := l.sig()
			if t.kind != kWord {
				return ""
			}
			switch w := l.s[t.start:t.end]; {
			case eqFold(w, "TABLE"):
				return l.ifExistsTable()
			case eqFold(w, "INDEX"):
				if l.skipTo("ON") {
					return l.table(false)
				}
				return ""
			case !isModifier(w):
				return ""
			}
		}
	case "DROP", "ALTER":
		t := l.sig()
		if t.kind == kWord && eqFold(l.s[t.start:t.end], "TEMPORARY") {
			t = l.sig()
		}
		if t.kind == kWord && eqFold(l.s[t.start:t.end], "TABLE") {
			return l.ifExistsTable()
		}
	case "TRUNCATE":
		saved := *l
		if t := l.sig(); t.kind != kWord || !eqFold(l.s[t.start:t.end], "TABLE") {
			*l = saved
		}
		return l.table(false)
	}
	return ""
}

func isModifier(w string) bool {
	for _, m := range [...]string{
		"LOW_PRIORITY", "HIGH_PRIORITY", "DELAYED", "IGNORE", "OR", "REPLACE",
		"ROLLBACK", "ABORT", "FAIL", "TEMP", "TEMPORARY", "UNLOGGED", "GLOBAL",
		"LOCAL", "VIRTUAL", "EXTERNAL", "UNIQUE", "TOP",
	} {
		if eqFold(w, m) {
			return true
		}
	}
	return false
}

// ifExistsTable reads [IF [NOT] EXISTS] t.
func (l *lexer) ifExistsTable() string {
	saved := *l
	if t := l.sig(); t.kind == kWord && eqFold(l.s[t.start:t.end], "IF") {
		for {
			t = l.sig()
			if t.kind != kWord {
				return ""
			}
			if eqFold(l.s[t.start:t.end], "EXISTS") {
				return l.table(false)
			}
		}
	}
	*l = saved
	return l.table(false)
}

// skipTo reads up to the keyword kw outside parentheses, within the
// statement.
func (l *lexer) skipTo(kw string) bool {
	depth := 0
	for {
		t := l.sig()
		switch {
		case t.kind == kEOF:
			return false
		case t.kind == kPunct:
			switch l.s[t.start] {
			case '(':
				depth++
			case ')':
				depth = max(depth-1, 0)
			case ';':
				if depth == 0 {
					return false
				}
			}
		case t.kind == kWord && depth == 0 && eqFold(l.s[t.start:t.end], kw):
			return true
		}
	}
}

// table reads a table name, qualified by up to two dotted parts written
// without spaces. In a FROM clause a name followed by "(" is a table
// function, not a table.
func (l *lexer) table(from bool) string {
	t := l.sig()
	if t.kind == kWord && eqFold(l.s[t.start:t.end], "ONLY") { // PostgreSQL
		t = l.sig()
	}
	first, last, plain := t, t, true
	for parts := 1; ; parts++ {
		switch t.kind {
		case kWord:
		case kIdent:
			plain = false
		default:
			return ""
		}
		last = t
		if parts == 3 {
			break
		}
		saved := *l
		if dot := l.next(); dot.kind == kPunct && l.s[dot.start] == '.' {
			if t = l.next(); t.kind == kWord || t.kind == kIdent {
				continue
			}
		}
		*l = saved
		break
	}
	if from {
		saved := *l
		if t := l.sig(); t.kind == kPunct && l.s[t.start] == '(' {
			return ""
		}
		*l = saved
	}
	switch {
	case last.end-first.start > maxCollection:
		return ""
	case plain:
		return l.s[first.start:last.end]
	case first == last:
		return unquote(l.s[first.start:first.end])
	}
	// "public"."items" -> public.items
	var b strings.Builder
	b.Grow(last.end - first.start)
	r := lexer{s: l.s[:last.end], i: first.start, d: l.d}
	for t := r.next(); t.kind != kEOF; t = r.next() {
		if t.kind == kIdent {
			b.WriteString(unquote(r.s[t.start:t.end]))
		} else {
			b.WriteString(r.s[t.start:t.end])
		}
	}
	return b.String()
}

// unquote strips an identifier's quotes and undoubles escaped ones.
func unquote(q string) string {
	open, s := q[0], q[1:len(q)-1]
	var esc string
	switch open {
	case '"':
		esc = `""`
	case '`':
		esc = "``"
	case '[':
		esc = "]]"
	default:
		return q
	}
	if !strings.Contains(s, esc) {
		return s
	}
	return strings.ReplaceAll(s, esc, esc[:1])
}

// eqFold reports whether w equals upper, an upper-case ASCII word, ignoring
// case.
func eqFold(w, upper string) bool {
	if len(w) != len(upper) {
		return false
	}
	for i := 0; i < len(w); i++ {
		if c := w[i]; c != upper[i] && !('a' <= c && c <= 'z' && c-'a'+'A' == upper[i]) {
			return false
		}
	}
	return true
}

// QuerySummary returns "OPERATION TABLE" or "OPERATION", a low-cardinality
// db.query.summary for the one-statement, one-table queries Summarize
// understands, or "" when the operation is unknown.
func QuerySummary(operation, collection string) string {
	switch {
	case operation == "":
		return ""
	case collection == "":
		return operation
	}
	return operation + " " + collection
}

// SpanName returns the span name: the query summary, or "DB" when the
// operation is unknown.
func SpanName(operation, collection string) string {
	if operation == "" {
		return "DB"
	}
	return QuerySummary(operation, collection)
}
