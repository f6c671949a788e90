// Command app is a fixture for the goexe tests: a net/http server (so the
// binary links the functions spanprobe probes) plus functions with known
// shapes. It is built, never run.
package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"

	"example.com/dep"
)

// classify has several return paths and a stack frame.
//
//go:noinline
func classify(n int) string {
	if n < 0 {
		return "negative"
	}
	if n == 0 {
		return "zero"
	}
	if n > 100 {
		return fmt.Sprint("big ", n)
	}
	return "small"
}

// add is a frameless leaf: no stack check, no PUSHQ BP.
//
//go:noinline
func add(a, b int) int { return a + b }

var errBad = errors.New("bad")

// retry has database/sql's DB.retry shape: it calls a func value, tests
// the error, and returns the last call's error untested.
//
//go:noinline
func retry(fn func(int) error) error {
	for i := 0; i < 2; i++ {
		if err := fn(i); err == nil || err != errBad {
			return err
		}
	}
	return fn(2)
}

func main() {
	fmt.Println(classify(len(os.Args)), add(1, 2), dep.Name, retry(func(i int) error {
		if i < len(os.Args) {
			return errBad
		}
		return nil
	}))
	if len(os.Args) > 2 {
		// Links the HTTP client (TestSuccessTestSites).
		_, _ = http.Get(os.Args[2])
	}
	if len(os.Args) > 1 {
		_ = http.ListenAndServe(os.Args[1], nil)
	}
}
