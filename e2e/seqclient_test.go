package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// seqClientEnv, set to a URL, makes the test binary a sequential client
// (seqClientMain) instead of running tests.
const seqClientEnv = "SPANPROBE_E2E_SEQCLIENT"

// seqClient times requests sent one at a time from a process of its own
// (the test binary run again), as the issue asks of load generators: in
// the test process, the client shared its runtime and garbage collector
// with the OTLP receiver that counts the agent's spans. (Moving it out
// changed the agent's figure on /hello little: 30-41 us in the process,
// 22-32 us out of it, both runs still reading BPF statistics with bpftool.)
type seqClient struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startSeqClient(b *testing.B, url string) *seqClient {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), seqClientEnv+"="+url)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting the sequential client: %v", err)
	}
	c := &seqClient{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	b.Cleanup(func() {
		c.in.Close()
		c.cmd.Wait()
	})
	return c
}

// median sends n requests one after another and returns their median
// latency.
func (c *seqClient) median(b *testing.B, n int) time.Duration {
	b.Helper()
	if _, err := fmt.Fprintln(c.in, n); err != nil {
		b.Fatalf("sequential client: %v", err)
	}
	if !c.out.Scan() {
		b.Fatalf("sequential client exited: %v", c.out.Err())
	}
	ns, err := strconv.ParseInt(c.out.Text(), 10, 64)
	if err != nil {
		b.Fatalf("sequential client: %s", c.out.Text())
	}
	return time.Duration(ns)
}

// seqClientMain reads request counts, one a line, and for each sends that
// many GETs to url one after another on one keep-alive connection, then
// writes their median latency in nanoseconds, or the error.
func seqClientMain(url string) int {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 10 * time.Second}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		n, err := strconv.Atoi(strings.TrimSpace(in.Text()))
		if err == nil && n <= 0 {
			err = fmt.Errorf("request count %d", n)
		}
		var d []time.Duration
		if err == nil {
			d, err = getSequential(client, url, n)
		}
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println(int64(median(d)))
	}
	return 0
}

// getSequential sends n GETs one after another and returns their
// latencies.
func getSequential(client *http.Client, url string, n int) ([]time.Duration, error) {
	d := make([]time.Duration, n)
	for i := range d {
		start := time.Now()
		resp, err := client.Get(url)
		if err != nil {
			return nil, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d[i] = time.Since(start)
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
		}
	}
	return d, nil
}
