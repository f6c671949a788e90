//go:build go1.18

package main

// Sum is generic: the compiler makes one shaped instance per GC shape,
// named e.g. main.Sum[go.shape.int] (main.Sum[...] in go tool nm and in
// stripped binaries).
//
//go:noinline
func Sum[T int | float64](xs []T) T {
	var s T
	for _, x := range xs {
		s += x
	}
	return s
}

func generic() int { return Sum([]int{1, 2, 3}) }
