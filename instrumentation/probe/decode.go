package probe

import "unsafe"

// Bytes views the first n bytes of a C char array of a bpf2go event (which
// Go sees as []int8), without copying.
func Bytes(a []int8, n uint16) []byte {
	if int(n) > len(a) {
		n = uint16(len(a))
	}
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&a[0])), n)
}

// String copies the first n bytes of a C char array into a string.
func String(a []int8, n uint16) string { return string(Bytes(a, n)) }

// ErrorType is error.type for a returned error given by its dynamic type:
// the type's name with its package path ("*net.OpError"), as the semantic
// conventions suggest, or "_OTHER" when the binary cannot say.
func ErrorType(env *Env, typ uint64) string {
	if name := env.TypeName(typ); name != "" {
		return name
	}
	return "_OTHER"
}
