// Command funcapp is the sample program of the --func tests: functions of
// every shape the issue lists, called inside HTTP requests (/work) and
// outside any request (/background hands the work to a goroutine started
// before any request). Every probed function is go:noinline: an inlined
// call runs no code of the function's own symbol, so no probe sees it.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// Store has a method on a pointer receiver.
type Store struct{ items map[string]int }

//go:noinline
func (s *Store) Get(key string) int { return s.items[key] }

//go:noinline
func prepareAnswer(n int, name string) string {
	return name + ":" + strconv.Itoa(n)
}

//go:noinline
func fact(n int) int {
	if n <= 1 {
		return 1
	}
	return n * fact(n-1)
}

// many takes twelve integers: nine go in RAX..R11, the last three on the
// stack.
//
//go:noinline
func many(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12 int) int {
	return a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11 + a12
}

// mixed has a string, a float, a bool, a small signed integer and a slice.
//
//go:noinline
func mixed(label string, ratio float64, ok bool, delta int8, ids []uint32) string {
	if ok {
		return fmt.Sprintf("%s %.2f %d %d", label, ratio, delta, len(ids))
	}
	return label
}

// floats16 takes sixteen floats: X0..X14 hold fifteen, the sixteenth goes
// on the stack.
//
//go:noinline
func floats16(f0, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14, f15 float64) float64 {
	return f0 + f1 + f2 + f3 + f4 + f5 + f6 + f7 + f8 + f9 + f10 + f11 + f12 + f13 + f14 + f15
}

//go:noinline
func sleepy(ms int) { time.Sleep(time.Duration(ms) * time.Millisecond) }

//go:noinline
func mustPositive(n int) int {
	if n < 0 {
		panic("negative")
	}
	return n
}

// safeCall recovers the panic of mustPositive and returns normally.
//
//go:noinline
func safeCall(n int) (v int) {
	defer func() {
		if recover() != nil {
			v = -1
		}
	}()
	return mustPositive(n)
}

var store = &Store{items: map[string]int{"answer": 42}}

// work calls every probed function once, in a fixed order.
func work() string {
	out := prepareAnswer(7, "seven")
	out += " " + strconv.Itoa(store.Get("answer"))
	out += " " + strconv.Itoa(generic())
	out += " " + strconv.Itoa(fact(4))
	out += " " + strconv.Itoa(many(1, -2, 3, -4, 5, -6, 7, -8, 9, -10, 11, -12))
	out += " " + mixed("ratio", 0.25, true, -3, []uint32{1, 2, 3})
	out += " " + strconv.FormatFloat(floats16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15.5), 'f', -1, 64)
	sleepy(30)
	out += " " + strconv.Itoa(safeCall(-5))
	return out
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()

	background := make(chan chan string)
	go func() { // started before any request: outside every trace
		for reply := range background {
			reply <- prepareAnswer(1, "background")
		}
	}()

	mux := http.NewServeMux()
	mux.HandleFunc("/work", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, work())
	})
	mux.HandleFunc("/background", func(w http.ResponseWriter, r *http.Request) {
		reply := make(chan string)
		background <- reply
		fmt.Fprintln(w, <-reply)
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("listening on " + ln.Addr().String())
	if err := http.Serve(ln, mux); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
