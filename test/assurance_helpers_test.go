package test

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"aya/internal/demo"
)

// backend is one demo echo server that a test can stop and start again on the same address.
type backend struct {
	t      *testing.T
	name   string
	addr   string
	opts   demo.EchoOptions
	cancel context.CancelFunc
}

func startBackend(t *testing.T, name, addr string, mut ...func(*demo.EchoOptions)) *backend {
	t.Helper()
	o := demo.EchoOptions{Name: name}
	for _, f := range mut {
		f(&o)
	}
	b := &backend{t: t, name: name, addr: addr, opts: o}
	b.start()
	t.Cleanup(b.stop)
	return b
}

func (b *backend) start() {
	b.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := demo.Start(ctx, b.addr, demo.NewEcho(b.opts))
	if err != nil {
		cancel()
		b.t.Fatal(err)
	}
	b.addr, b.cancel = a.String(), cancel
}

func (b *backend) stop() {
	if b.cancel != nil {
		b.cancel()
		b.cancel = nil
	}
}

func (b *backend) url() string { return "http://" + b.addr }

// targetStatus is one target of GET /upstreams.
type targetStatus struct {
	URL         string  `json:"url"`
	State       string  `json:"state"`
	Breaker     string  `json:"breaker"`
	Ejections   int     `json:"ejections"`
	EjectReason string  `json:"eject_reason"`
	InFlight    int64   `json:"in_flight"`
	EWMALatency float64 `json:"ewma_latency"`
	Draining    bool    `json:"draining"`
}

// targetState returns the admin API's view of one target of one upstream.
func targetState(t *testing.T, admin, upstream, url string) targetStatus {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/upstreams")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Upstreams []struct {
			Name    string         `json:"name"`
			Targets []targetStatus `json:"targets"`
		} `json:"upstreams"`
	}
	if err := jsonDecode(resp, &v); err != nil {
		t.Fatal(err)
	}
	for _, u := range v.Upstreams {
		if u.Name != upstream {
			continue
		}
		for _, ts := range u.Targets {
			if ts.URL == url {
				return ts
			}
		}
	}
	t.Fatalf("target %s of upstream %s not in GET /upstreams", url, upstream)
	return targetStatus{}
}

// waitState polls the admin API until the target's state is want and returns how long that
// took, failing after limit.
func waitState(t *testing.T, admin, upstream, url, want string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if targetState(t, admin, upstream, url).State == want {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("target %s not %s within %v: %+v", url, want, limit, targetState(t, admin, upstream, url))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// load runs workers that GET url in a loop until stop is closed, counting answers by backend
// and client errors (transport errors and statuses other than 200).
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	by         map[string]int
	firstErr   atomic.Value
	stop       chan struct{}
	wg         sync.WaitGroup
}

func startLoad(t *testing.T, url string, workers int, header map[string]string) *load {
	l := &load{by: map[string]int{}, stop: make(chan struct{})}
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c := client()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", url, nil)
				for k, v := range header {
					req.Header.Set(k, v)
				}
				resp, err := c.Do(req)
				if err != nil {
					l.failed.Add(1)
					l.firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					l.failed.Add(1)
					l.firstErr.CompareAndSwap(nil, resp.Status)
					continue
				}
				l.ok.Add(1)
				l.mu.Lock()
				l.by[resp.Header.Get(demo.BackendHeader)]++
				l.mu.Unlock()
			}
		}()
	}
	t.Cleanup(l.end)
	return l
}

func (l *load) end() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// counts returns the answers per backend so far and resets them.
func (l *load) counts() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.by
	l.by = map[string]int{}
	return c
}
