// Command llmbench measures what aya's LLM gateway adds to a call: the same open-loop load is
// sent straight to a local OpenAI-compatible provider and through aya, in interleaved rounds,
// and the latency percentiles are compared, for non-streamed and streamed calls; aya's CPU
// time per call is read from /proc. Then many concurrent streams are held open through aya
// while its resident memory is read, or, with -soak, a steady load runs while aya's RSS is
// sampled. See bench/README.md ("LLM gateway").
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	llmdemo "aya/internal/demo/llm"
)

func main() {
	ayaBin := flag.String("aya", "bin/aya", "the aya binary")
	rate := flag.Int("rate", 1000, "requests per second (open loop)")
	dur := flag.Duration("duration", 5*time.Second, "length of each measured run")
	rounds := flag.Int("rounds", 2, "interleaved rounds (direct, aya; non-stream, then stream)")
	streams := flag.Int("streams", 1000, "concurrent streams held open through aya for the memory figure")
	soak := flag.Duration("soak", 0, "instead of the latency runs: hold a steady load this long and sample aya's RSS")
	soakRate := flag.Int("soak-rate", 500, "-soak: non-streamed calls per second")
	soakStreams := flag.Int("soak-streams", 200, "-soak: concurrent streams, each reopened when it ends")
	soakEvery := flag.Duration("soak-every", 10*time.Second, "-soak: RSS sampling interval")
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
	fmt.Fprintf(os.Stderr, "aya (pid %d) admin at http://%s (profile: /debug/pprof/profile)\n", cmd.Process.Pid, admin)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4096, MaxConnsPerHost: 0, IdleConnTimeout: time.Minute}}
	t := targets{
		direct: "http://" + fast + "/v1/chat/completions", directKey: "sk-upstream", directModel: "gpt-4o-mini",
		aya: "http://" + web + "/v1/chat/completions", ayaKey: "sk-bench", ayaModel: "gpt", slowModel: "slow",
	}
	if *soak > 0 {
		soakRSS(client, t, cmd.Process.Pid, *soak, *soakEvery, *soakRate, *soakStreams)
		return
	}
	latency(client, t, cmd.Process.Pid, *rate, *dur, *rounds)
	holdStreams(client, t, cmd.Process.Pid, *streams)
}

// targets are the two ways to the provider: straight, and through aya.
type targets struct {
	direct, directKey, directModel string
	aya, ayaKey, ayaModel          string
	slowModel                      string // through aya, to the paced provider
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
