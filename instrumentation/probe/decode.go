package probe

import "unsafe"

// ErrorType is error.type for an error returned in process pid, given by
// its dynamic type: the type's name with its package path ("*net.OpError"),
// as the semantic conventions suggest, or "_OTHER" when the binary cannot
// say.
func ErrorType(env *Env, pid uint32, typ uint64) string {
	if name := env.TypeName(pid, typ); name != "" {
		return name
	}
	return "_OTHER"
}

// Texts cuts the strings a record carries after its fixed part: back to
// back, in the order the fixed part gives their lengths (Record texts in
// bpf/include/common.h). A record is as long as what it holds.
type Texts struct {
	rest  []byte
	short bool
}

// TextsAfter returns the texts of raw, whose fixed part is fixed bytes long.
func TextsAfter(raw []byte, fixed int) Texts {
	if len(raw) < fixed {
		return Texts{short: true}
	}
	return Texts{rest: raw[fixed:]}
}

// Next returns the next n bytes, a view into the record, or nil once the
// record holds fewer than asked for.
func (t *Texts) Next(n uint16) []byte {
	if t.short || int(n) > len(t.rest) {
		t.short = true
		return nil
	}
	b := t.rest[:n:n]
	t.rest = t.rest[n:]
	return b
}

// Short says whether the record was shorter than its fixed part or than
// the lengths asked for: a record to drop, not to fill a span from.
func (t *Texts) Short() bool { return t.short }

// RecordBytes returns a record as a probe sends it: the bytes of its fixed
// part ev, then texts back to back. For tests and benchmarks of decoders.
func RecordBytes[T any](ev *T, texts ...string) []byte {
	b := append([]byte(nil), unsafe.Slice((*byte)(unsafe.Pointer(ev)), unsafe.Sizeof(*ev))...)
	for _, s := range texts {
		b = append(b, s...)
	}
	return b
}
