package demo

import (
	"context"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Partner is a rate-limited partner API: it serves at most Cap requests in any sliding second
// and answers 429 with Retry-After above that, like the shared upstreams a TPS pool protects.
// It counts both, so a demo or a test can read what the upstream itself saw.
type Partner struct {
	Cap int

	mu     sync.Mutex
	times  []time.Time // admission times within the last second, oldest first
	served atomic.Int64
	over   atomic.Int64
}

// NewPartner returns a partner API allowing capacity requests per sliding second.
func NewPartner(capacity int) *Partner { return &Partner{Cap: capacity} }

// Served and Rejected are the partner's own counts since it started.
func (p *Partner) Served() int64   { return p.served.Load() }
func (p *Partner) Rejected() int64 { return p.over.Load() }

func (p *Partner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	now := time.Now()
	p.mu.Lock()
	cut := 0
	for cut < len(p.times) && now.Sub(p.times[cut]) >= time.Second {
		cut++
	}
	p.times = p.times[cut:]
	used := len(p.times)
	if used >= p.Cap {
		p.mu.Unlock()
		p.over.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "1")
		w.Header().Set("RateLimit-Limit", strconv.Itoa(p.Cap))
		w.Header().Set("RateLimit-Remaining", "0")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"error":"partner rate limit exceeded"}`+"\n")
		return
	}
	p.times = append(p.times, now)
	p.mu.Unlock()
	p.served.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("RateLimit-Limit", strconv.Itoa(p.Cap))
	io.WriteString(w, `{"partner":"ok","service":`+strconv.Quote(r.Header.Get("X-Service"))+"}\n")
}

// LoadSpec is one service's background demand: Base requests per second, swinging by Swing
// over Period (a sine), so the demand a TPS pool sees moves over time.
type LoadSpec struct {
	Service string
	Base    float64
	Swing   float64
	Period  time.Duration
	Phase   float64 // radians
}

// Load sends open-loop GET requests to url with X-Service set, at each spec's time-varying
// rate, until ctx ends. It is the demo's traffic, not a benchmark: at most a few hundred
// requests per second, each answered or timed out within 5 s.
func Load(ctx context.Context, url string, specs []LoadSpec) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	start := time.Now()
	var wg sync.WaitGroup
	for _, s := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				t := time.Since(start).Seconds()
				rate := s.Base
				if s.Period > 0 {
					rate += s.Swing * math.Sin(2*math.Pi*t/s.Period.Seconds()+s.Phase)
				}
				rate = max(rate, 1)
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Duration(float64(time.Second) / rate)):
				}
				go func() {
					req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
					if err != nil {
						return
					}
					req.Header.Set("X-Service", s.Service)
					if resp, err := c.Do(req); err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}()
			}
		}()
	}
	wg.Wait()
	c.CloseIdleConnections()
}
