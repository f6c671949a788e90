package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// loadSpec describes the load startLoad sends: GET requests over keep-alive
// connections, each answer checked.
type loadSpec struct {
	addr  string
	conns int     // connections, one worker each
	rate  float64 // requests a second over all connections; 0: as fast as they go
	total int     // requests to send; 0: until stopped
	// req returns request i's path and query, and the body it must get with
	// status 200 ("" accepts any body).
	req func(i int) (target, body string)
}

// loadGen is load being sent. Workers finish the request at hand when it is
// stopped, so stopping causes no failure of its own.
type loadGen struct {
	ok, failed atomic.Int64
	done       chan struct{}
	cancel     context.CancelFunc

	mu       sync.Mutex
	firstErr error
	elapsed  time.Duration
}

// loadResult is what a load did.
type loadResult struct {
	ok, failed int
	firstErr   error // of the failed requests
	elapsed    time.Duration
}

func (r loadResult) sent() int { return r.ok + r.failed }

// rate is the achieved rate in requests a second.
func (r loadResult) rate() float64 { return float64(r.sent()) / r.elapsed.Seconds() }

// startLoad sends load until spec.total requests are answered or stop is
// called; the end of the test stops it.
func startLoad(t testing.TB, spec loadSpec) *loadGen {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &loadGen{done: make(chan struct{}), cancel: cancel}
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: spec.conns, MaxConnsPerHost: spec.conns}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	tickets := make(chan int, spec.conns)
	start := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() { // the pacer
		defer close(tickets)
		for i := 0; spec.total == 0 || i < spec.total; i++ {
			if spec.rate > 0 {
				due := start.Add(time.Duration(float64(i) / spec.rate * float64(time.Second)))
				if d := time.Until(due); d > 0 {
					time.Sleep(d)
				}
			}
			select {
			case tickets <- i:
			case <-ctx.Done():
				return
			}
		}
	})
	for range spec.conns {
		wg.Go(func() {
			for i := range tickets {
				target, want := spec.req(i)
				if err := getExpect(client, "http://"+spec.addr+target, want); err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					if l.firstErr == nil {
						l.firstErr = err
					}
					l.mu.Unlock()
					continue
				}
				l.ok.Add(1)
			}
		})
	}
	go func() {
		wg.Wait()
		tr.CloseIdleConnections()
		l.mu.Lock()
		l.elapsed = time.Since(start)
		l.mu.Unlock()
		close(l.done)
	}()
	t.Cleanup(func() { l.stop() })
	return l
}

// getExpect fetches url and checks for status 200 and, unless want is
// empty, the body want.
func getExpect(client *http.Client, url, want string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		return fmt.Errorf("GET %s: reading body: %w", url, err)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("GET %s: status %d (%q), want 200", url, resp.StatusCode, body)
	case want != "" && string(body) != want:
		return fmt.Errorf("GET %s: body %q, want %q", url, body, want)
	}
	return nil
}

// answered returns how many requests have been answered, well or not.
func (l *loadGen) answered() int64 { return l.ok.Load() + l.failed.Load() }

// stop stops sending, waits for the requests in flight and returns the
// result. It is idempotent.
func (l *loadGen) stop() loadResult {
	l.cancel()
	return l.wait()
}

// wait waits until the load has sent all its requests.
func (l *loadGen) wait() loadResult {
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return loadResult{ok: int(l.ok.Load()), failed: int(l.failed.Load()), firstErr: l.firstErr, elapsed: l.elapsed}
}

// checkLoad fails the test when any request of r failed.
func checkLoad(t testing.TB, r loadResult) {
	t.Helper()
	if r.failed > 0 {
		t.Errorf("%d of %d requests failed; first: %v", r.failed, r.sent(), r.firstErr)
	}
	if r.ok == 0 {
		t.Error("no request succeeded")
	}
}

// rssSampler records a process's resident set size every 100ms.
type rssSampler struct {
	stopc   chan struct{}
	done    chan struct{}
	samples []int64 // bytes
}

func sampleRSS(t testing.TB, pid int) *rssSampler {
	t.Helper()
	s := &rssSampler{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if v, err := procStatus(pid, "VmRSS"); err == nil {
				s.samples = append(s.samples, v)
			}
			select {
			case <-s.stopc:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { s.stop() })
	return s
}

// stop ends sampling and returns the samples. It is idempotent.
func (s *rssSampler) stop() []int64 {
	select {
	case <-s.stopc:
	default:
		close(s.stopc)
	}
	<-s.done
	return s.samples
}

// rssStats summarises samples: the median of the second half (the steady
// state once queues and heap have grown) and the maximum, in bytes.
func rssStats(samples []int64) (steady, peak int64) {
	if len(samples) == 0 {
		return 0, 0
	}
	late := append([]int64(nil), samples[len(samples)/2:]...)
	sort.Slice(late, func(i, k int) bool { return late[i] < late[k] })
	for _, v := range samples {
		peak = max(peak, v)
	}
	return late[len(late)/2], peak
}

// faultDuration is how long the long-running fault tests last:
// SPANPROBE_FAULT_DURATION, 10s by default (make bench runs them for 60s).
func faultDuration(t testing.TB) time.Duration {
	t.Helper()
	v := os.Getenv("SPANPROBE_FAULT_DURATION")
	if v == "" {
		return 10 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("SPANPROBE_FAULT_DURATION=%q: want a positive duration such as 60s", v)
	}
	return d
}

var errNoField = errors.New("field not found")

// mib formats bytes in MiB.
func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
