package main

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

const chatBody = `{"model":"%s","max_tokens":%d,%s"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"say hello to the benchmark"}]}`

// call makes one request maker: to url with key, for model, streamed or not, asking for
// maxTokens output tokens.
func call(url, key, model string, stream bool, maxTokens int) func() *http.Request {
	extra := ""
	if stream {
		extra = `"stream":true,`
	}
	body := fmt.Sprintf(chatBody, model, maxTokens, extra)
	return func() *http.Request {
		r, err := http.NewRequest("POST", url, strings.NewReader(body))
		check(err)
		r.Header.Set("Authorization", "Bearer "+key)
		r.Header.Set("Content-Type", "application/json")
		return r
	}
}

// latency runs the interleaved rounds — direct and through aya, non-streamed then streamed —
// and prints the percentiles, the difference, and aya's CPU time per call.
func latency(c *http.Client, t targets, pid, rate int, dur time.Duration, rounds int) {
	kinds := []struct {
		name   string
		stream bool
	}{{"non-stream chat", false}, {"stream chat (16 tokens, whole stream)", true}}
	type result struct {
		d, a       []time.Duration
		derr, aerr int
		cpu        time.Duration
		calls      int
	}
	res := make([]result, len(kinds))
	// Warm both paths' connection pools.
	for _, k := range kinds {
		run(c, call(t.direct, t.directKey, t.directModel, k.stream, 16), rate, time.Second)
		run(c, call(t.aya, t.ayaKey, t.ayaModel, k.stream, 16), rate, time.Second)
	}
	for range rounds {
		for i, k := range kinds {
			r := &res[i]
			l, e := run(c, call(t.direct, t.directKey, t.directModel, k.stream, 16), rate, dur)
			r.d, r.derr = append(r.d, l...), r.derr+e
			cpu0 := cpuTime(pid)
			l, e = run(c, call(t.aya, t.ayaKey, t.ayaModel, k.stream, 16), rate, dur)
			r.cpu += cpuTime(pid) - cpu0
			r.calls += len(l) + e
			r.a, r.aerr = append(r.a, l...), r.aerr+e
		}
	}
	for i, k := range kinds {
		r := &res[i]
		slices.Sort(r.d)
		slices.Sort(r.a)
		fmt.Printf("%s at %d req/s, %d rounds of %v, interleaved\n", k.name, rate, rounds, dur)
		fmt.Printf("  direct to provider: n=%d errors=%d p50=%v p99=%v\n", len(r.d), r.derr, pct(r.d, 50), pct(r.d, 99))
		fmt.Printf("  through aya:        n=%d errors=%d p50=%v p99=%v\n", len(r.a), r.aerr, pct(r.a, 50), pct(r.a, 99))
		perCall := time.Duration(0)
		if r.calls > 0 {
			perCall = r.cpu / time.Duration(r.calls)
		}
		fmt.Printf("  added by aya:       p50=%v p99=%v; aya CPU %v per call\n", pct(r.a, 50)-pct(r.d, 50), pct(r.a, 99)-pct(r.d, 99), perCall.Round(time.Microsecond))
	}
}

// run sends one request every 1/rate for dur without waiting for answers (open loop) and
// returns the latencies of the answered ones (the whole body read) and the count of errors.
func run(c *http.Client, mk func() *http.Request, rate int, dur time.Duration) ([]time.Duration, int) {
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := time.Now().Add(dur)
	for time.Now().Before(end) {
		<-tick.C
		wg.Go(func() {
			r := mk()
			t0 := time.Now()
			resp, err := c.Do(r)
			ok := err == nil && resp.StatusCode == 200
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				ok = ok && err == nil
			}
			d := time.Since(t0)
			mu.Lock()
			if ok {
				lat = append(lat, d)
			} else {
				errs++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return lat, errs
}

// stream makes one streamed call and reports whether it ended with [DONE].
func stream(c *http.Client, mk func() *http.Request) bool {
	resp, err := c.Do(mk())
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	done := false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		done = done || sc.Text() == "data: [DONE]"
	}
	return resp.StatusCode == 200 && done && sc.Err() == nil
}

// holdStreams opens n slow streams through aya at once and reads aya's RSS while they flow.
func holdStreams(c *http.Client, t targets, pid, n int) {
	idle := rss(pid)
	slowBody := call(t.aya, t.ayaKey, t.slowModel, true, 40) // 40 tokens at 10/s: about 4 s open
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, failed := 0, 0
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			good := stream(c, slowBody)
			mu.Lock()
			if good {
				ok++
			} else {
				failed++
			}
			mu.Unlock()
		})
	}
	close(start)
	time.Sleep(2 * time.Second) // every stream is open and flowing
	peak := rss(pid)
	wg.Wait()
	fmt.Printf("%d concurrent streams through aya: %d completed, %d failed; aya RSS idle %d MB, with the streams open %d MB\n",
		n, ok, failed, idle>>20, peak>>20)
}

func pct(s []time.Duration, p int) time.Duration {
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, len(s)*p/100)].Round(time.Microsecond)
}

func init() { log.SetFlags(0) }
