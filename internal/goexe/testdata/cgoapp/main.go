// Command cgoapp has C code of its own, which makes the Go linker hand the
// final link to the C linker (external linking).
package main

// static int twice(int x) { return 2 * x; }
import "C"

import (
	"fmt"
	"os"
)

//go:noinline
func classify(n int) string {
	if n < 0 {
		return "negative"
	}
	if n == 0 {
		return "zero"
	}
	return fmt.Sprint("positive ", n)
}

func main() { fmt.Println(classify(int(C.twice(C.int(len(os.Args)))))) }
