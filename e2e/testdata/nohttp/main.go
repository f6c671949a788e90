// Command nohttp is a Go program that does not link net/http: the agent must
// report that there is nothing to instrument instead of failing, and in launch
// mode it must exit with this program's exit code.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	sleep := flag.Duration("sleep", time.Minute, "how long to run")
	code := flag.Int("exit", 0, "exit code")
	flag.Parse()
	fmt.Println("started")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-time.After(*sleep):
	case <-sig:
	}
	os.Exit(*code)
}
