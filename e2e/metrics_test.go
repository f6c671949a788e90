package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// metrics is one scrape of the agent's /metrics (Prometheus text format).
type metrics struct {
	text   string
	series map[string]float64 // `name{labels}` or `name` -> value
}

func parseMetrics(text string) metrics {
	m := metrics{text: text, series: map[string]float64{}}
	for line := range strings.SplitSeq(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			m.series[line[:i]] = v
		}
	}
	return m
}

// sum adds the series of a metric whose labels contain filter ("" for all).
func (m metrics) sum(name, filter string) float64 {
	var total float64
	for k, v := range m.series {
		base, labels, _ := strings.Cut(k, "{")
		if base == name && strings.Contains(labels, filter) {
			total += v
		}
	}
	return total
}

func (m metrics) has(name string) bool {
	for k := range m.series {
		if base, _, _ := strings.Cut(k, "{"); base == name {
			return true
		}
	}
	return false
}

func httpGet(url string) (int, string, error) {
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body)), err
}

func scrape(t testing.TB, addr string) metrics {
	t.Helper()
	m, err := fetchMetrics(addr)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// fetchMetrics is scrape for goroutines other than the test's.
func fetchMetrics(addr string) (metrics, error) {
	code, body, err := httpGet("http://" + addr + "/metrics")
	if err != nil || code != http.StatusOK {
		return metrics{}, fmt.Errorf("GET /metrics: %d %v", code, err)
	}
	return parseMetrics(body), nil
}

// waitMetrics scrapes until ok holds or d passes, and returns the last scrape.
func waitMetrics(t testing.TB, addr string, d time.Duration, ok func(metrics) bool) metrics {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		m := scrape(t, addr)
		if ok(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics did not reach the expected state within %v:\n%s", d, m.text)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
