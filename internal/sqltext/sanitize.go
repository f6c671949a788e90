package sqltext

import "unsafe"

const (
	// MaxQueryLen caps the length of what Sanitize returns, marker included.
	MaxQueryLen = 2048
	// TruncationMarker ends a sanitized query that was cut. Sanitize removes
	// every comment, so no output that was not cut ends in a comment.
	TruncationMarker = " /*truncated*/"
)

// Sanitize returns query with every literal replaced by ?, for
// db.query.text. system is the db.system.name value (see SystemName): it
// picks the rules engines disagree on, and an unknown one picks the rules
// that hide the most. Comments are removed, whitespace runs become one
// space, IN lists of only ? become IN (?), and the result is cut at a token
// boundary to MaxQueryLen bytes ending in TruncationMarker.
//
// It allocates at most once, for the result, and not at all when the result
// is a substring of query (a parameterized query on one line).
func Sanitize(system, query string) string {
	l := lexer{s: query, d: dialectOf(system)}
	w := writer{src: query}
	gap := -1 // where the pending whitespace and comments began
	var (
		list  listState
		open  int // output length just after IN's "("
		items int
	)
	for l.i < len(query) {
		var t token
		t.start = l.i
		t.kind, t.end = l.scan(query, l.i)
		l.i = t.end
		switch t.kind {
		case kSpace, kComment:
			if gap < 0 {
				gap = t.start
			}
			continue
		}
		if gap >= 0 {
			switch {
			case w.n == 0: // leading space is dropped
			case t.start-gap == 1 && query[gap] == ' ':
				w.copy(gap, t.start)
			default:
				w.add(" ", ' ')
			}
			gap = -1
		}
		if t.kind == kLiteral {
			w.add("?", '?')
		} else {
			w.copy(t.start, t.end)
		}

		// IN (?, ?, ?) -> IN (?): the list length is data too, and it would
		// make as many distinct query texts as there are list lengths.
		if list != listNone || t.kind == kWord && t.end-t.start == 2 {
			list, open, items = w.inList(list, t, open, items)
		}
		w.token()
	}
	return w.finish()
}

// inList moves the IN list state past token t, collapsing the list at its
// closing parenthesis.
func (w *writer) inList(list listState, t token, open, items int) (listState, int, int) {
	question := t.kind == kLiteral || t.kind == kParam && t.end-t.start == 1
	switch c := w.src[t.start]; {
	case t.kind == kWord && t.end-t.start == 2 && c|0x20 == 'i' && w.src[t.start+1]|0x20 == 'n':
		return listIn, open, items
	case list == listIn && c == '(':
		return listOpen, w.n, 0
	case question && (list == listOpen || list == listComma):
		return listItem, open, items + 1
	case list == listItem && c == ',':
		return listComma, open, items
	case list == listItem && c == ')' && items > 1:
		w.truncate(open)
		w.add("?)", 0)
	}
	return listNone, open, items
}

type listState uint8

const (
	listNone  listState = iota
	listIn              // after IN
	listOpen            // after IN (
	listItem            // after a ?
	listComma           // after a ? and a comma
)

// writer builds Sanitize's output as buf followed by the run src[start:end]
// of input bytes that are copied unchanged. Copies extend the run; only a
// replaced literal, a rewritten gap or an IN list flushes it, so most
// queries cost a few appends. While nothing was flushed the output is a
// substring of src and costs nothing; the first flush allocates the one
// buffer the output can need, since it is never longer than src or than
// MaxQueryLen.
type writer struct {
	src        string
	buf        []byte // len(buf) == min(flushed bytes, cap(buf)): past it they are dropped
	start, end int
	n          int // output length
	cut        int // output length after the last token that fits with the marker
}

// copy appends src[i:j].
func (w *writer) copy(i, j int) {
	if i != w.end {
		w.jump(i)
	}
	w.end = j
	w.n += j - i
}

// jump starts a new run at i. It stays out of line so copy, which runs for
// every token, inlines.
//
//go:noinline
func (w *writer) jump(i int) {
	w.flush()
	w.start, w.end = i, i
}

// add appends s, which is the single byte b if b is not 0: then the run
// grows instead when src has b next.
func (w *writer) add(s string, b byte) {
	if b != 0 && w.end < len(w.src) && w.src[w.end] == b && w.n > 0 {
		w.end++
		w.n++
		return
	}
	w.flush()
	w.append(s)
	w.n += len(s)
}

func (w *writer) flush() {
	if w.start != w.end {
		w.append(w.src[w.start:w.end])
		w.start = w.end
	}
}

func (w *writer) append(s string) {
	if w.buf == nil {
		w.buf = make([]byte, 0, min(len(w.src), MaxQueryLen))
	}
	if room := cap(w.buf) - len(w.buf); len(s) > room {
		s = s[:room]
	}
	w.buf = append(w.buf, s...)
}

// truncate drops the output past n.
func (w *writer) truncate(n int) {
	w.flush()
	w.buf = w.buf[:min(n, len(w.buf))]
	w.n = n
	w.cut = min(w.cut, n)
}

// token marks the end of a token: the output may be cut here.
func (w *writer) token() {
	if w.n <= MaxQueryLen-len(TruncationMarker) {
		w.cut = w.n
	}
}

func (w *writer) finish() string {
	switch {
	case w.n > MaxQueryLen && w.cut == 0:
		return TruncationMarker[1:]
	case w.n > MaxQueryLen && w.buf == nil:
		w.buf = make([]byte, 0, w.cut+len(TruncationMarker))
		w.buf = append(w.buf, w.src[w.start:w.start+w.cut]...)
		w.buf = append(w.buf, TruncationMarker...)
	case w.n > MaxQueryLen:
		w.flush()
		w.buf = append(w.buf[:w.cut], TruncationMarker...)
	case w.buf == nil:
		return w.src[w.start:w.end]
	default:
		w.flush()
	}
	if len(w.buf) == 0 {
		return ""
	}
	// The buffer is never written again, so the string can share it: one
	// allocation per span instead of two.
	return unsafe.String(unsafe.SliceData(w.buf), len(w.buf))
}
