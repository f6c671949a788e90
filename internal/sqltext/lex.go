package sqltext

import "strings"

// dialect holds the few lexical rules SQL engines disagree on. Where they
// disagree and the engine is unknown, the rule that hides more text wins.
type dialect uint8

const (
	// dqIdent: "..." quotes an identifier (standard SQL). Without it "..."
	// is a string, as in MySQL's default mode and SQLite's fallback.
	dqIdent dialect = 1 << iota
	// dqTable: "..." in a table position names a table, even where it can be
	// a string elsewhere (SQLite).
	dqTable
	// bsEscape: a backslash escapes the next byte inside a string (MySQL,
	// ClickHouse). PostgreSQL only does this in E'...'.
	bsEscape
	// hashComment: # starts a comment running to the end of the line (MySQL).
	// Elsewhere # is an operator (PostgreSQL) or names a temporary table
	// (SQL Server).
	hashComment
	// bracketIdent: [...] quotes an identifier (SQL Server, SQLite). Elsewhere
	// it is a subscript whose contents are lexed like any other text.
	bracketIdent
	// dollarMoney: $12.50 is a money literal, not a $1 placeholder.
	dollarMoney
)

// strict is the dialect for other_sql and unknown systems: strings may use
// backslash escapes, "..." is a string and # starts a comment, so text that
// any of the common engines reads as a value or a comment is hidden. The one
// case it reads wrongly is a standard-SQL string ending in a backslash
// ('C:\'): the words of the next string stay visible.
const strict = bsEscape | hashComment

// dialects is keyed by db.system.name.
var dialects = [...]struct {
	system string
	d      dialect
}{
	{"postgresql", dqIdent | dqTable},
	{"cockroachdb", dqIdent | dqTable},
	{"mysql", bsEscape | hashComment},
	{"mariadb", bsEscape | hashComment},
	{"sqlite", dqTable | bracketIdent},
	{"microsoft.sql_server", dqIdent | dqTable | bracketIdent | dollarMoney},
	{"oracle.db", dqIdent | dqTable},
	{"ibm.db2", dqIdent | dqTable},
	{"sap.hana", dqIdent | dqTable},
	{"trino", dqIdent | dqTable},
	{"firebirdsql", dqIdent | dqTable},
	{"clickhouse", dqIdent | dqTable | bsEscape | hashComment},
}

func dialectOf(system string) dialect {
	for _, e := range dialects {
		if e.system == system {
			return e.d
		}
	}
	return strict
}

type kind uint8

const (
	kEOF     kind = iota
	kSpace        // a run of whitespace
	kComment      // -- ..., # ..., /* ... */
	kWord         // a keyword or bare identifier
	kIdent        // a quoted identifier, kept as written
	kLiteral      // anything that carries a value, unterminated text included
	kParam        // a placeholder: ?, ?1, $1, $name, :1
	kPunct        // one byte of operator or punctuation, the : of :name too
)

type token struct {
	kind       kind
	start, end int
}

// Byte classes.
const (
	cSpace = 1 << iota
	cDigit
	cWordStart // letters, _ and every byte of a multi-byte UTF-8 sequence
	cWord      // cWordStart, digits and $
)

var class = func() (t [256]uint8) {
	for _, c := range " \t\n\r\f\v" {
		t[c] = cSpace
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = cDigit | cWord
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = cWordStart | cWord
		t[c-'a'+'A'] = cWordStart | cWord
	}
	t['_'] = cWordStart | cWord
	t['$'] = cWord
	for c := 0x80; c < 0x100; c++ {
		t[c] = cWordStart | cWord
	}
	return t
}()

// lexer splits SQL into tokens. Every byte belongs to exactly one token, and
// tokens begin and end on ASCII bytes or whole words, so cutting between
// tokens never splits a UTF-8 sequence. The work is linear in the input.
type lexer struct {
	s string
	i int
	d dialect
}

func (l *lexer) next() token {
	s, i := l.s, l.i
	if i >= len(s) {
		return token{kEOF, i, i}
	}
	k, end := l.scan(s, i)
	l.i = end
	return token{k, i, end}
}

// sig returns the next token that is not whitespace or a comment.
func (l *lexer) sig() token {
	for {
		t := l.next()
		if t.kind != kSpace && t.kind != kComment {
			return t
		}
	}
}

func (l *lexer) scan(s string, i int) (kind, int) {
	c := s[i]
	switch {
	case class[c]&cSpace != 0:
		j := i + 1
		for j < len(s) && class[s[j]]&cSpace != 0 {
			j++
		}
		return kSpace, j
	case class[c]&cWordStart != 0:
		j := i + 1
		for j < len(s) && class[s[j]]&cWord != 0 {
			j++
		}
		if j < len(s) && s[j] == '\'' {
			if end, ok := l.prefixed(s, i, j); ok {
				return kLiteral, end
			}
		}
		return kWord, j
	case class[c]&cDigit != 0:
		return kLiteral, numberEnd(s, i)
	}
	switch c {
	case '\'':
		end, _ := quoted(s, i+1, '\'', l.d&bsEscape != 0)
		return kLiteral, end
	case '"':
		if l.d&dqIdent != 0 {
			return ident(s, i, '"')
		}
		end, _ := quoted(s, i+1, '"', l.d&bsEscape != 0)
		return kLiteral, end
	case '`':
		return ident(s, i, '`')
	case '[':
		if l.d&bracketIdent != 0 {
			return ident(s, i, ']')
		}
	case '-':
		if i+1 < len(s) && s[i+1] == '-' {
			return kComment, lineEnd(s, i)
		}
	case '#':
		if l.d&hashComment != 0 {
			return kComment, lineEnd(s, i)
		}
	case '/':
		if i+1 < len(s) && s[i+1] == '*' {
			return kComment, blockEnd(s, i)
		}
	case '.':
		if i+1 < len(s) && class[s[i+1]]&cDigit != 0 && !afterValue(s, i) {
			return kLiteral, numberEnd(s, i)
		}
	case '?':
		return kParam, digitsEnd(s, i+1)
	case ':':
		if i+1 < len(s) && class[s[i+1]]&cDigit != 0 && !afterValue(s, i) {
			return kParam, digitsEnd(s, i+1) // Oracle :1
		}
	case '$':
		return l.dollar(s, i)
	}
	return kPunct, i + 1
}

// prefixed reads a string literal whose prefix word is s[i:j] and whose
// quote is s[j]: N'a', E'a', B'01', X'1F', MySQL's _utf8mb4'a' and Oracle's
// q'[a]'.
func (l *lexer) prefixed(s string, i, j int) (int, bool) {
	w := s[i:j]
	bs := l.d&bsEscape != 0
	switch {
	case len(w) > 1 && w[0] == '_': // _utf8mb4'...'
	case len(w) == 1 && strings.ContainsRune("nNbBxX", rune(w[0])):
	case len(w) == 1 && (w[0] == 'e' || w[0] == 'E'):
		bs = true
	case strings.EqualFold(w, "q") || strings.EqualFold(w, "nq"):
		return qQuoted(s, j), true
	default:
		return 0, false
	}
	end, _ := quoted(s, j+1, '\'', bs)
	return end, true
}

// quoted returns the end of text quoted by q whose body starts at i: a
// doubled q is an escaped one, and so is \q when bs is set. Unterminated
// text runs to the end of s.
func quoted(s string, i int, q byte, bs bool) (int, bool) {
	for i < len(s) {
		c := s[i]
		switch {
		case c == q:
			if i+1 < len(s) && s[i+1] == q {
				i += 2
				continue
			}
			return i + 1, true
		case c == '\\' && bs:
			i += 2
			continue
		}
		i++
	}
	return len(s), false
}

// ident reads a quoted identifier opened at s[i] and closed by close. An
// unterminated one is a literal: nothing says it was not meant as a string.
func ident(s string, i int, close byte) (kind, int) {
	end, ok := quoted(s, i+1, close, false)
	if !ok {
		return kLiteral, end
	}
	return kIdent, end
}

// qQuoted reads Oracle's q'<d>...<d>' whose quote is at s[j].
func qQuoted(s string, j int) int {
	if j+1 >= len(s) {
		return len(s)
	}
	d := s[j+1]
	switch d {
	case '[':
		d = ']'
	case '(':
		d = ')'
	case '{':
		d = '}'
	case '<':
		d = '>'
	}
	for k := j + 2; k+1 < len(s); k++ {
		if s[k] == d && s[k+1] == '\'' {
			return k + 2
		}
	}
	return len(s)
}

// dollar reads what starts with $: a $1 or $name placeholder, a PostgreSQL
// $tag$...$tag$ string, an SQL Server $12.50 money literal, or a lone $.
func (l *lexer) dollar(s string, i int) (kind, int) {
	j := i + 1
	if j < len(s) && class[s[j]]&cDigit != 0 {
		if l.d&dollarMoney != 0 {
			return kLiteral, numberEnd(s, j)
		}
		return kParam, digitsEnd(s, j)
	}
	for j < len(s) && class[s[j]]&cWord != 0 && s[j] != '$' {
		j++
	}
	if j < len(s) && s[j] == '$' {
		delim := s[i : j+1]
		if k := strings.Index(s[j+1:], delim); k >= 0 {
			return kLiteral, j + 1 + k + len(delim)
		}
		return kLiteral, len(s)
	}
	if j > i+1 {
		return kParam, j
	}
	return kPunct, i + 1
}

// numberEnd reads a number starting at s[i]: digits, a fraction, an
// exponent, 0x/0b prefixes and _ separators. Letters glued to digits are
// taken too (MySQL's 1abc identifiers): hiding too much is the safe error.
func numberEnd(s string, i int) int {
	hex := i+1 < len(s) && s[i] == '0' && (s[i+1]|0x20) == 'x'
	j := i + 1
	for j < len(s) {
		c := s[j]
		switch {
		case c < 0x80 && class[c]&cWord != 0 && c != '$', c == '.':
		case (c == '+' || c == '-') && !hex && (s[j-1]|0x20) == 'e' &&
			j+1 < len(s) && class[s[j+1]]&cDigit != 0:
		default:
			return j
		}
		j++
	}
	return j
}

func digitsEnd(s string, i int) int {
	for i < len(s) && class[s[i]]&cDigit != 0 {
		i++
	}
	return i
}

func lineEnd(s string, i int) int {
	if k := strings.IndexByte(s[i:], '\n'); k >= 0 {
		return i + k
	}
	return len(s)
}

// blockEnd reads a /* */ comment, nesting as PostgreSQL does: where an
// engine does not nest, this hides more text, never less.
func blockEnd(s string, i int) int {
	depth := 0
	for i+1 < len(s) {
		switch {
		case s[i] == '/' && s[i+1] == '*':
			depth++
			i += 2
		case s[i] == '*' && s[i+1] == '/':
			depth--
			i += 2
			if depth == 0 {
				return i
			}
		default:
			i++
		}
	}
	return len(s)
}

// afterValue reports whether s[i] directly follows something that ends a
// value, so ".5" in "t1.5" or ":2" in "a[1:2]" is not a new token. The set
// holds every byte a literal can end with and ?, which replaces it, so
// Sanitize's output reads the same way as its input.
func afterValue(s string, i int) bool {
	if i == 0 {
		return false
	}
	c := s[i-1]
	return class[c]&cWord != 0 || strings.IndexByte(")]'\"`?.", c) >= 0
}
