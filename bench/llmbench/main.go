// Command llmbench measures what aya's LLM gateway adds to a call: the same open-loop load is
// sent straight to a local OpenAI-compatible provider and through aya, in interleaved rounds,
// and the latency percentiles are compared; then many concurrent streams are held open through
// aya while its resident memory is read. See bench/README.md ("LLM gateway").
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	llmdemo "aya/internal/demo/llm"
)

func main() {
	ayaBin := flag.String("aya", "bin/aya", "the aya binary")
	rate := flag.Int("rate", 1000, "requests per second (open loop)")
	dur := flag.Duration("duration", 5*time.Second, "length of each measured run")
	rounds := flag.Int("rounds", 2, "interleaved rounds (direct, aya)")
	streams := flag.Int("streams", 1000, "concurrent streams held open through aya for the memory figure")
	flag.Parse()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	_, fastAddr, err := llmdemo.Start(ctx, "127.0.0.1:0", llmdemo.OpenAI, llmdemo.Options{TokensPerSecond: -1})
	check(err)
	fast := fastAddr.String()
	// Slow streams: 40 tokens at 10/s keep each stream open about 4 s.
	_, slowAddr, err := llmdemo.Start(ctx, "127.0.0.1:0", llmdemo.OpenAI, llmdemo.Options{TokensPerSecond: 10})
	check(err)
	slow := slowAddr.String()

	dir, err := os.MkdirTemp("", "aya-llmbench")
	check(err)
	defer os.RemoveAll(dir)
	web, admin := freePort(), freePort()
	cfg := fmt.Sprintf(`listeners: [{name: web, address: "%s", timeouts: {write: 5m, idle: 5m}}]
admin: {address: "%s"}
access_log: {enabled: false}
llm:
  providers:
    - {name: fast, type: openai_compatible, base_url: "http://%s/v1"}
    - {name: slow, type: openai_compatible, base_url: "http://%s/v1"}
  models:
    - {name: gpt, deployments: [{provider: fast, model: gpt-4o-mini, cost: {input: 0.15, output: 0.6}}]}
    - {name: slow, deployments: [{provider: slow, model: gpt-4o-mini}]}
  keys: [{key: sk-bench, name: bench}]
`, web, admin, fast, slow)
	path := filepath.Join(dir, "aya.yaml")
	check(os.WriteFile(path, []byte(cfg), 0o600))
	cmd := exec.Command(*ayaBin, "run", "-c", path)
	cmd.Stderr = os.Stderr
	check(cmd.Start())
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
	waitHealthy(admin)
	fmt.Fprintf(os.Stderr, "aya admin at http://%s (profile: /debug/pprof/profile)\n", admin)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4096, MaxConnsPerHost: 0, IdleConnTimeout: time.Minute}}
	body := `{"model":"%s","max_tokens":16,"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"say hello to the benchmark"}]}`
	direct := func() (*http.Request, error) {
		r, err := http.NewRequest("POST", "http://"+fast+"/v1/chat/completions", strings.NewReader(fmt.Sprintf(body, "gpt-4o-mini")))
		if r != nil {
			r.Header.Set("Authorization", "Bearer sk-upstream")
			r.Header.Set("Content-Type", "application/json")
		}
		return r, err
	}
	viaAya := func() (*http.Request, error) {
		r, err := http.NewRequest("POST", "http://"+web+"/v1/chat/completions", strings.NewReader(fmt.Sprintf(body, "gpt")))
		if r != nil {
			r.Header.Set("Authorization", "Bearer sk-bench")
			r.Header.Set("Content-Type", "application/json")
		}
		return r, err
	}
	// Warm both paths' connection pools.
	run(client, direct, *rate, time.Second)
	run(client, viaAya, *rate, time.Second)
	var d, a []time.Duration
	var derr, aerr int
	for i := 0; i < *rounds; i++ {
		l, e := run(client, direct, *rate, *dur)
		d, derr = append(d, l...), derr+e
		l, e = run(client, viaAya, *rate, *dur)
		a, aerr = append(a, l...), aerr+e
	}
	slices.Sort(d)
	slices.Sort(a)
	fmt.Printf("non-stream chat at %d req/s, %d rounds of %v, interleaved\n", *rate, *rounds, *dur)
	fmt.Printf("  direct to provider: n=%d errors=%d p50=%v p99=%v\n", len(d), derr, pct(d, 50), pct(d, 99))
	fmt.Printf("  through aya:        n=%d errors=%d p50=%v p99=%v\n", len(a), aerr, pct(a, 50), pct(a, 99))
	fmt.Printf("  added by aya:       p50=%v p99=%v\n", pct(a, 50)-pct(d, 50), pct(a, 99)-pct(d, 99))

	idle := rss(cmd.Process.Pid)
	var wg sync.WaitGroup
	var mu sync.Mutex
	okStreams, failed := 0, 0
	start := make(chan struct{})
	for i := 0; i < *streams; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, _ := http.NewRequest("POST", "http://"+web+"/v1/chat/completions",
				strings.NewReader(`{"model":"slow","stream":true,"max_tokens":40,"messages":[{"role":"user","content":"stream please"}]}`))
			r.Header.Set("Authorization", "Bearer sk-bench")
			r.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(r)
			ok := err == nil && resp.StatusCode == 200
			if err == nil {
				sc := bufio.NewScanner(resp.Body)
				done := false
				for sc.Scan() {
					done = done || sc.Text() == "data: [DONE]"
				}
				resp.Body.Close()
				ok = ok && done
			}
			mu.Lock()
			if ok {
				okStreams++
			} else {
				failed++
			}
			mu.Unlock()
		}()
	}
	close(start)
	time.Sleep(2 * time.Second) // every stream is open and flowing
	peak := rss(cmd.Process.Pid)
	wg.Wait()
	fmt.Printf("%d concurrent streams through aya: %d completed, %d failed; aya RSS idle %d MB, with the streams open %d MB\n",
		*streams, okStreams, failed, idle>>20, peak>>20)
}

// run sends one request every 1/rate for dur without waiting for answers (open loop) and
// returns the latencies of the answered ones and the count of errors.
func run(c *http.Client, mk func() (*http.Request, error), rate int, dur time.Duration) ([]time.Duration, int) {
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := time.Now().Add(dur)
	for time.Now().Before(end) {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := mk()
			if err != nil {
				log.Fatal(err)
			}
			t0 := time.Now()
			resp, err := c.Do(r)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			d := time.Since(t0)
			mu.Lock()
			if err != nil || resp.StatusCode != 200 {
				errs++
			} else {
				lat = append(lat, d)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return lat, errs
}

func pct(s []time.Duration, p int) time.Duration {
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, len(s)*p/100)].Round(time.Microsecond)
}

func rss(pid int) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	check(err)
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func freePort() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer l.Close()
	return l.Addr().String()
}

func waitHealthy(admin string) {
	for i := 0; i < 200; i++ {
		if resp, err := http.Get("http://" + admin + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	log.Fatal("aya did not become healthy")
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
