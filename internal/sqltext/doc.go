// Package sqltext turns the text of a database/sql query into span data
// without putting user data in the span: Sanitize gives db.query.text with
// every literal replaced by ?, Summarize gives db.operation.name and
// db.collection.name, SpanName the span name ("SELECT items", "SELECT" or
// "DB"), and SystemName db.system.name from the driver's type.
//
// Applications often build SQL with values inlined, so the raw text can
// hold passwords, e-mail addresses or tokens; the agent records raw text
// only when configured to. The rules lean towards hiding too much:
//
//   - Strings ('a', E'a', N'a', X'1F', B'01', _utf8mb4'a', q'[a]', $$a$$,
//     $tag$a$tag$) and numbers (1, 1.5, .5, 1e-3, 0x1F, 1_000) become ?.
//     A sign stays an operator (-?). TRUE, FALSE and NULL stay: they are
//     keywords, not data.
//   - Placeholders stay as written: ?, ?1, $1, $name, :name, :1, @p1.
//     Digits inside identifiers (t1, col_2) are part of the identifier.
//   - Quoted identifiers stay: `t` always, "t" where the engine reads it as
//     an identifier (PostgreSQL, SQL Server, Oracle...), [t] in SQL Server
//     and SQLite. "..." is a string for MySQL, for SQLite (which falls back
//     to a string for an unknown name) and for unknown engines, so it
//     becomes ? there.
//   - Comments (--, /* */ nested, and # for MySQL and unknown engines) are
//     removed: they can carry data, and sqlcommenter puts trace ids there.
//   - An unterminated string, quoted identifier or comment hides all the
//     text after its opening quote.
//   - Whitespace runs become one space; IN lists holding only ? become
//     IN (?), so the text does not vary with the list's length.
//   - The output is at most MaxQueryLen bytes; a longer one is cut after a
//     whole token and ends in TruncationMarker, a comment: no other output
//     can end in one, since comments are removed.
//
// The lexer knows the few rules SQL engines disagree on (backslash escapes,
// what double quotes and # mean) by db.system.name; for an unknown engine
// it takes the reading that hides more, which misreads one case: a string
// ending in a backslash ('C:\') on an engine without backslash escapes
// leaves the words of the next string visible. It does not parse SQL:
// Summarize reads the first statement's leading keywords and the first
// table it names, which is what a span name needs, and gives empty strings
// rather than a guess. Work is linear in the input and Sanitize allocates
// at most once, for its result.
package sqltext
