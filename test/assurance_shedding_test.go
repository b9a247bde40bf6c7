package test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slowable is a backend whose latency the test turns up and down, counting the requests it
// holds at once.
type slowable struct {
	delay    atomic.Int64 // ns
	inflight atomic.Int64
	peak     atomic.Int64
	addr     string
}

func startSlowable(t *testing.T) *slowable {
	t.Helper()
	s := &slowable{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := s.inflight.Add(1)
		defer s.inflight.Add(-1)
		for p := s.peak.Load(); n > p && !s.peak.CompareAndSwap(p, n); p = s.peak.Load() {
		}
		select {
		case <-time.After(time.Duration(s.delay.Load())):
		case <-r.Context().Done():
		}
		io.WriteString(w, "ok")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	s.addr = ln.Addr().String()
	return s
}

// shedLoad runs workers against url, counting 200s and 503s and the slowest of each.
type shedLoad struct {
	ok, shed, other  atomic.Int64
	slowestShed      atomic.Int64 // ns
	shedTime         atomic.Int64 // ns, summed over the shed requests
	slowestOK        atomic.Int64 // ns
	retryAfter, body atomic.Value
	stop             chan struct{}
	wg               sync.WaitGroup
	stopOnce         sync.Once
	firstOther       atomic.Value
}

func raise(v *atomic.Int64, n int64) {
	for p := v.Load(); n > p && !v.CompareAndSwap(p, n); p = v.Load() {
	}
}

func startShedLoad(t *testing.T, url string, workers int) *shedLoad {
	l := &shedLoad{stop: make(chan struct{})}
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c := &http.Client{Timeout: 10 * time.Second}
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				start := time.Now()
				resp, err := c.Get(url)
				if err != nil {
					l.other.Add(1)
					l.firstOther.CompareAndSwap(nil, err.Error())
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				d := int64(time.Since(start))
				switch resp.StatusCode {
				case 200:
					l.ok.Add(1)
					raise(&l.slowestOK, d)
				case 503:
					l.shed.Add(1)
					raise(&l.slowestShed, d)
					l.shedTime.Add(d)
					l.retryAfter.Store(resp.Header.Get("Retry-After"))
					l.body.Store(string(b))
					// A client honouring Retry-After would wait; a short pause keeps the
					// test's CPU for aya.
					time.Sleep(10 * time.Millisecond)
				default:
					l.other.Add(1)
					l.firstOther.CompareAndSwap(nil, resp.Status)
				}
			}
		}()
	}
	t.Cleanup(l.end)
	return l
}

func (l *shedLoad) end() {
	l.stopOnce.Do(func() { close(l.stop) })
	l.wg.Wait()
}

func (l *shedLoad) reset() {
	l.ok.Store(0)
	l.shed.Store(0)
	l.slowestShed.Store(0)
	l.shedTime.Store(0)
	l.slowestOK.Store(0)
}

// TestLoadSheddingUnderSlowBackend: a backend turns slow; aya's concurrency limit falls, so
// excess clients get a quick 503 with Retry-After instead of queueing, the backend holds fewer
// requests at once, and the limit grows back once the backend is fast again.
func TestLoadSheddingUnderSlowBackend(t *testing.T) {
	be := startSlowable(t)
	be.delay.Store(int64(2 * time.Millisecond))
	web := freePort(t)
	p := startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s"}]
upstreams:
  - name: app
    targets: ["http://%s"]
    load_shedding: {algorithm: gradient, initial_limit: 20, min_limit: 4, max_limit: 100, window: 100ms, smoothing: 1}
routes: [{name: r, match: {path: "/*"}, upstream: app}]
admin: {address: "{{ADMIN}}"}
`, web, be.addr))
	url := "http://" + web + "/x"

	// Fast: the limit learns the baseline latency and nothing is shed.
	l := startShedLoad(t, url, 12)
	time.Sleep(2 * time.Second)
	if l.shed.Load() != 0 || l.other.Load() != 0 || l.ok.Load() == 0 {
		t.Fatalf("fast phase: %d ok, %d shed, %d other (%v)", l.ok.Load(), l.shed.Load(), l.other.Load(), l.firstOther.Load())
	}
	l.end()

	// Slow: 40 clients against a backend answering in 400 ms.
	be.delay.Store(int64(400 * time.Millisecond))
	l = startShedLoad(t, url, 40)
	time.Sleep(3 * time.Second)
	be.peak.Store(be.inflight.Load())
	l.reset()
	time.Sleep(2 * time.Second)
	peak := be.peak.Load()
	ok, shed := l.ok.Load(), l.shed.Load()
	slowestShed, slowestOK := time.Duration(l.slowestShed.Load()), time.Duration(l.slowestOK.Load())
	l.end()
	if shed == 0 || ok == 0 || l.other.Load() != 0 {
		t.Fatalf("slow phase: %d ok, %d shed, %d other (%v)", ok, shed, l.other.Load(), l.firstOther.Load())
	}
	meanShed := time.Duration(l.shedTime.Load() / shed)
	t.Logf("slow phase (last 2 s): %d ok (slowest %v), %d shed (mean %v, slowest %v), backend peak concurrency %d, Retry-After %v",
		ok, slowestOK.Round(time.Millisecond), shed, meanShed.Round(time.Microsecond), slowestShed.Round(time.Millisecond), peak, l.retryAfter.Load())
	if peak >= 20 {
		t.Fatalf("backend held %d requests at once: the limit did not fall below its initial 20", peak)
	}
	// Shed answers come at once; the slowest is bounded by the backend's latency to leave room
	// for a busy test machine.
	if meanShed > 50*time.Millisecond || slowestShed > 400*time.Millisecond {
		t.Fatalf("shed requests took %v on average, %v at most: shedding must answer at once", meanShed, slowestShed)
	}
	if slowestOK > 1200*time.Millisecond {
		t.Fatalf("an admitted request took %v against a 400 ms backend: requests queued", slowestOK)
	}
	if ra, body := l.retryAfter.Load(), l.body.Load().(string); ra != "1" || !strings.Contains(body, `"code":503`) || !strings.Contains(body, "upstream app") {
		t.Fatalf("503 answer: Retry-After %v, body %s", ra, body)
	}

	// Fast again: the limit grows back until 12 clients go through unshed.
	be.delay.Store(int64(2 * time.Millisecond))
	l = startShedLoad(t, url, 12)
	start := time.Now()
	for {
		l.reset()
		time.Sleep(time.Second)
		if l.shed.Load() == 0 && l.ok.Load() > 0 {
			break
		}
		if time.Since(start) > 15*time.Second {
			t.Fatalf("limit did not recover: %d shed in the last second", l.shed.Load())
		}
	}
	t.Logf("recovered: no request shed within %v of the backend being fast again", time.Since(start).Round(100*time.Millisecond))
	if l.other.Load() != 0 {
		t.Fatalf("%d client errors (%v)", l.other.Load(), l.firstOther.Load())
	}
	resp, err := http.Get("http://" + p.Admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `aya_upstream_concurrency_limit{upstream="app"}`) {
		t.Fatalf("GET /metrics has no aya_upstream_concurrency_limit for app")
	}
	resp, err = http.Get("http://" + p.Admin + "/upstreams")
	if err != nil {
		t.Fatal(err)
	}
	var ups struct {
		Upstreams []struct {
			LoadShedding *struct {
				Limit int `json:"limit"`
			} `json:"load_shedding"`
		} `json:"upstreams"`
	}
	if err := jsonDecode(resp, &ups); err != nil || len(ups.Upstreams) != 1 || ups.Upstreams[0].LoadShedding == nil || ups.Upstreams[0].LoadShedding.Limit < 12 {
		t.Fatalf("GET /upstreams load_shedding: %+v %v", ups, err)
	}
}
