package test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

type limited struct {
	status                     int
	limit, remaining, reset    string
	retryAfter, contentType    string
	code                       float64
	message, requestID, header string
}

func limitGet(t *testing.T, c *http.Client, url, user string) limited {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if user != "" {
		req.Header.Set("X-User", user)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := limited{
		status: resp.StatusCode, limit: resp.Header.Get("RateLimit-Limit"), remaining: resp.Header.Get("RateLimit-Remaining"),
		reset: resp.Header.Get("RateLimit-Reset"), retryAfter: resp.Header.Get("Retry-After"),
		contentType: resp.Header.Get("Content-Type"), header: resp.Header.Get("X-Backend"),
	}
	if resp.StatusCode == 429 {
		var body struct {
			Error struct {
				Code      float64 `json:"code"`
				Message   string  `json:"message"`
				RequestID string  `json:"request_id"`
			} `json:"error"`
		}
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatalf("429 body is not aya's JSON error: %v: %s", err, b)
		}
		a.code, a.message, a.requestID = body.Error.Code, body.Error.Message, body.Error.RequestID
	}
	return a
}

// waitReloads waits until aya has logged n successful reloads.
func waitReloads(t *testing.T, p *proc, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(p.out.String(), "config reloaded") < n {
		if time.Now().After(deadline) {
			t.Fatalf("aya did not reload (%d reloads wanted)", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPolicyRateLimit runs examples/policies-ratelimit.yaml over a real backend.
func TestPolicyRateLimit(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", "app")
		w.Write([]byte("ok"))
	}))
	defer backend.Close()
	example, err := os.ReadFile(filepath.Join(repoRoot(), "examples", "policies-ratelimit.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	cfg := strings.NewReplacer(
		"127.0.0.1:8080", addr,
		"http://127.0.0.1:9001", backend.URL,
		"127.0.0.1:9901", "{{ADMIN}}",
	).Replace(string(example))
	p := startAya(t, cfg)
	base := "http://" + addr
	c := &http.Client{Timeout: 10 * time.Second}

	t.Run("burst then 429", func(t *testing.T) {
		start := time.Now()
		passed := 0
		var first429 *limited
		for i := range 30 {
			a := limitGet(t, c, base+"/api/x", "alice")
			switch a.status {
			case 200:
				passed++
				if a.header != "app" || a.limit != "10" || a.remaining == "" || a.reset == "" || a.retryAfter != "" {
					t.Errorf("request %d passed without the RateLimit headers (or with Retry-After): %+v", i, a)
				}
			case 429:
				if first429 == nil {
					first429 = &a
				}
			default:
				t.Fatalf("request %d: status %d", i, a.status)
			}
			if i < 10 && a.status != 200 {
				t.Fatalf("request %d of the burst of 10 got %d", i, a.status)
			}
		}
		elapsed := time.Since(start).Seconds()
		if max := 10 + 10*elapsed + 1; float64(passed) > max {
			t.Errorf("%d of 30 passed in %.2fs, want at most 10 + 10·elapsed ≈ %.0f", passed, elapsed, max)
		}
		if first429 == nil {
			t.Fatalf("30 back-to-back requests all passed in %.2fs", elapsed)
		}
		a := *first429
		if a.code != 429 || !strings.Contains(a.message, "rate limit exceeded") || a.requestID == "" || a.contentType != "application/json" {
			t.Errorf("429 body: %+v", a)
		}
		if a.retryAfter != "1" || a.limit != "10" || a.remaining != "0" || a.reset == "" {
			t.Errorf("429 headers: %+v, want Retry-After 1 and RateLimit-Limit 10, -Remaining 0, -Reset", a)
		}
		t.Logf("%d of 30 back-to-back requests passed in %.2fs", passed, elapsed)
	})

	t.Run("per-user keys", func(t *testing.T) {
		if a := limitGet(t, c, base+"/api/x", "bob"); a.status != 200 || a.remaining != "9" {
			t.Errorf("bob after alice's burst: %+v, want his own full bucket", a)
		}
	})

	t.Run("daily quota", func(t *testing.T) {
		// carol spends her 20 a day at the bucket's pace; the 21st is the quota's 429.
		deadline := time.Now().Add(20 * time.Second)
		sent := 0
		for sent < 20 && time.Now().Before(deadline) {
			a := limitGet(t, c, base+"/api/x", "carol")
			switch a.status {
			case 200:
				sent++
			case 429:
				if strings.Contains(a.message, "quota") {
					t.Fatalf("quota hit after %d requests: %+v", sent, a)
				}
				time.Sleep(150 * time.Millisecond) // the bucket's pace, not the quota
			default:
				t.Fatalf("status %d", a.status)
			}
		}
		time.Sleep(200 * time.Millisecond) // a token back in the bucket
		a := limitGet(t, c, base+"/api/x", "carol")
		if a.status != 429 || !strings.Contains(a.message, "quota exhausted") || a.limit != "20" || a.remaining != "0" {
			t.Fatalf("21st request of the day: %+v, want the quota's 429", a)
		}
		if secs, err := strconv.Atoi(a.retryAfter); err != nil || secs < 1 || secs > 86400 {
			t.Errorf("Retry-After %q, want the seconds until the next UTC day", a.retryAfter)
		}
	})

	t.Run("reload keeps counters", func(t *testing.T) {
		for i := range 5 {
			if a := limitGet(t, c, base+"/login", ""); a.status != 200 {
				t.Fatalf("login try %d: %+v", i, a)
			}
		}
		if a := limitGet(t, c, base+"/login", ""); a.status != 429 || a.limit != "5" {
			t.Fatalf("6th login try: %+v, want 429", a)
		}
		// Same limits, another edit: the counters carry on.
		p.rewrite(strings.Replace(cfg, "# Rate limits and quotas.", "# Rate limits and quotas (reloaded).", 1))
		waitReloads(t, p, 1)
		if a := limitGet(t, c, base+"/login", ""); a.status != 429 {
			t.Fatalf("after a reload with the same limit: %+v, want still 429", a)
		}
		// A changed limit starts afresh.
		p.rewrite(strings.Replace(cfg, "rate: 5/m", "rate: 6/m", 1))
		waitReloads(t, p, 2)
		if a := limitGet(t, c, base+"/login", ""); a.status != 200 || a.limit != "6" {
			t.Fatalf("after a reload with a new limit: %+v, want a fresh counter", a)
		}
	})
}
