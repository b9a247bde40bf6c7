package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"aya/internal/config"
	"aya/internal/demo"
	llmdemo "aya/internal/demo/llm"
	"aya/internal/gateway"
)

// demoConfig is the gateway config `aya demo` serves, over backends it starts itself.
const demoConfig = `# aya demo: three echo backends behind one route, balanced round robin, and a rate-limited
# partner API shared by four services through a TPS pool.
listeners:
  - {name: web, address: "%[1]s"}
upstreams:
  - name: demo
    balance: round_robin
    targets:
      - {url: "http://%[2]s"}
      - {url: "http://%[3]s"}
      - {url: "http://%[4]s"}
  - name: partner
    targets: [{url: "http://%[6]s"}]
tps:
  pools:
    - name: partner
      capacity: %[7]d
      # The learned policy runs in shadow: waterfill enforces, the dashboard shows both.
      allocator: learned
      shadow: true
      tick: 250ms
      # The demo's load generator, aya and the partner share one machine: 5%% of headroom
      # absorbs their scheduling jitter (the default 2%% suits a real network).
      margin: 5%%
      queue: {max: 500, timeout: 2s}
      services:
        - {name: payments, priority: critical, min: 20}
        - {name: search, priority: high}
        - {name: recommendations, priority: medium}
        - {name: reports, priority: low}
routes:
  - name: api
    match: {path: "/api/*"}
    strip_prefix: /api
    response_headers: {set: {X-Served-By: aya}}
    upstream: demo
  - name: partner
    match: {path: "/partner/*"}
    strip_prefix: /partner
    tps: {pool: partner, service_from: "header:X-Service"}
    upstream: partner
llm:
  providers:
    - {name: openai-local, type: openai, base_url: "http://%[9]s/v1", api_key: demo}
    - {name: anthropic-local, type: anthropic, base_url: "http://%[10]s", api_key: demo}
    - {name: gemini-local, type: gemini, base_url: "http://%[11]s", api_key: demo}
    - {name: vllm-local, type: openai_compatible, base_url: "http://%[12]s/v1"}
  models:
    - name: gpt-4o-mini
      deployments: [{provider: openai-local, model: gpt-4o-mini, cost: {input: 0.15, output: 0.6}}]
      fallbacks: [claude-sonnet]
    - name: claude-sonnet
      deployments: [{provider: anthropic-local, model: claude-sonnet-4-5, cost: {input: 3, output: 15}}]
    - name: gemini-flash
      deployments: [{provider: gemini-local, model: gemini-2.5-flash, cost: {input: 0.3, output: 2.5}}]
    - name: llama-3.1-8b
      deployments: [{provider: vllm-local, model: meta-llama/Llama-3.1-8B-Instruct}]
    - name: smart
      strategy: lowest_latency
      deployments:
        - {provider: anthropic-local, model: claude-sonnet-4-5}
        - {provider: openai-local, model: gpt-4o}
    - name: text-embedding-3-small
      deployments: [{provider: openai-local, model: text-embedding-3-small}]
  keys:
    - {key: sk-demo, name: demo}
admin: {address: "%[5]s"}
shutdown: {drain_timeout: 5s}
log: {level: warn, format: text}
# Background traffic would flood the terminal: access lines go to a file instead.
access_log: {output: "%[8]s"}
`

func cmdDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "gateway address")
	admin := fs.String("admin", "127.0.0.1:9901", "admin API address")
	latency := fs.Duration("latency", 0, "latency every demo backend adds to each request")
	errRate := fs.Float64("error-rate", 0, "fraction (0..1) of requests each demo backend answers with 500")
	partnerCap := fs.Int("partner-cap", 150, "requests per second the demo partner API allows")
	load := fs.Bool("load", true, "send background traffic from 4 services to the partner API through the TPS pool")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *errRate < 0 || *errRate > 1 {
		fmt.Fprintln(stderr, "aya demo: --error-rate must be between 0 and 1")
		return 2
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	names := []string{"backend-1", "backend-2", "backend-3"}
	addrs := make([]string, len(names))
	for i, name := range names {
		h := demo.NewEcho(demo.EchoOptions{Name: name, Latency: *latency, ErrorRate: *errRate, Seed: uint64(i + 1)})
		a, err := demo.Start(ctx, "127.0.0.1:0", h)
		if err != nil {
			fmt.Fprintf(stderr, "aya demo: start %s: %v\n", name, err)
			return 1
		}
		addrs[i] = a.String()
	}

	partner := demo.NewPartner(*partnerCap)
	partnerAddr, err := demo.Start(ctx, "127.0.0.1:0", partner)
	if err != nil {
		fmt.Fprintf(stderr, "aya demo: start the partner API: %v\n", err)
		return 1
	}

	var llmAddrs [4]string
	for i, kind := range []llmdemo.Kind{llmdemo.OpenAI, llmdemo.Anthropic, llmdemo.Gemini, llmdemo.OpenAICompatible} {
		_, a, err := llmdemo.Start(ctx, "127.0.0.1:0", kind, llmdemo.Options{Seed: int64(i + 1)})
		if err != nil {
			fmt.Fprintf(stderr, "aya demo: start the local %s provider: %v\n", kind, err)
			return 1
		}
		llmAddrs[i] = a.String()
	}

	accessLog := filepath.Join(os.TempDir(), "aya-demo-access.log")
	text := fmt.Sprintf(demoConfig, *listen, addrs[0], addrs[1], addrs[2], *admin, partnerAddr.String(), *partnerCap, accessLog,
		llmAddrs[0], llmAddrs[1], llmAddrs[2], llmAddrs[3])
	cfg, err := config.Parse("demo.yaml", []byte(text))
	if err != nil {
		printConfigError(stderr, err)
		return 1
	}
	log := newLogger(cfg.Log, stderr)
	g, err := gateway.New(cfg, log)
	if err != nil {
		printConfigError(stderr, err)
		return 1
	}
	if err := g.Start(ctx); err != nil {
		fmt.Fprintf(stderr, "aya demo: %v\n", err)
		return 1
	}
	web := "http://" + g.Addr("web")
	if *load {
		// Demand swings around 1.3x the cap so the pool has to shed, LOW first.
		c := float64(*partnerCap)
		go demo.Load(ctx, web+"/partner/quote", []demo.LoadSpec{
			{Service: "payments", Base: 0.2 * c, Swing: 0.1 * c, Period: 60 * time.Second},
			{Service: "search", Base: 0.4 * c, Swing: 0.2 * c, Period: 45 * time.Second, Phase: 1},
			{Service: "recommendations", Base: 0.3 * c, Swing: 0.2 * c, Period: 30 * time.Second, Phase: 2},
			{Service: "reports", Base: 0.4 * c, Swing: 0.3 * c, Period: 90 * time.Second, Phase: 3},
		})
	}
	fmt.Fprintf(stdout, `aya demo is running (Ctrl-C to stop).

  gateway     %[1]s/api/  → round robin over 3 echo backends (/api is stripped)
  partner     %[1]s/partner/ → a partner API capped at %[6]d req/s, shared by 4 services
              through the TPS pool "partner" (header X-Service picks the service)
  llm         %[1]s/v1 with key sk-demo: gpt-4o-mini, claude-sonnet, gemini-flash,
              llama-3.1-8b, smart, text-embedding-3-small (local OpenAI, Anthropic, Gemini, vLLM-style)
  dashboard   http://%[2]s/ui/
  admin       http://%[2]s/health   (metrics: /metrics, access log: %[7]s)
  backends    %[3]s  %[4]s  %[5]s

Try:
  curl -si %[1]s/api/hello                # X-Demo-Backend says who answered
  for i in 1 2 3 4 5 6; do curl -s -o /dev/null -D - %[1]s/api/ | grep -i x-demo-backend; done
  curl -N '%[1]s/api/sse?n=5'             # Server-Sent Events, flushed one per 100ms
  curl -si '%[1]s/api/hello?latency=300ms' # a slow answer (the backend adds latency)
  curl -si %[1]s/api/status/503           # an upstream error passes through
  curl -s %[1]s/nowhere                   # no route: aya's JSON 404
  curl -s http://%[2]s/upstreams          # live targets and counters
  curl -s -H 'X-Service: payments' %[1]s/partner/quote   # through the TPS pool
  curl -s http://%[2]s/tps                # allocation, demand, served, rejected per service
  curl -s %[1]s/v1/chat/completions -H 'Authorization: Bearer sk-demo' -H 'Content-Type: application/json' \
       -d '{"model":"claude-sonnet","messages":[{"role":"user","content":"hello"}]}'   # OpenAI API → Anthropic
`, web, *admin, addrs[0], addrs[1], addrs[2], *partnerCap, accessLog)

	return serveUntilSignal(ctx, g, log, 5*time.Second, nil, func() {
		slog.Info("the demo has no config file to reload")
	})
}
