package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	anthropic "github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// TestDemo starts `aya demo` as a user would and checks /api/ is answered by all 3 backends,
// the admin health is 200, and SIGTERM stops everything with exit 0.
func TestDemo(t *testing.T) {
	listen, admin := freePort(t), freePort(t)
	start := time.Now()
	p := startProc(t, []string{"demo", "--listen", listen, "--admin", admin})
	p.Admin = admin
	p.waitHealthy(3 * time.Second)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("demo ready after %v, want within 3s", d)
	}
	if !p.waitOutput("curl", 2*time.Second) {
		t.Fatalf("demo printed no sample curl lines:\n%s", p.out.String())
	}

	seen := map[string]int{}
	c := client()
	for i := 0; i < 30; i++ {
		resp, err := c.Get("http://" + listen + "/api/hello")
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Backend string `json:"backend"`
			Path    string `json:"path"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		b := resp.Header.Get("X-Demo-Backend")
		if b == "" || b != body.Backend {
			t.Fatalf("X-Demo-Backend %q, body backend %q", b, body.Backend)
		}
		seen[b]++
	}
	if len(seen) != 3 {
		t.Fatalf("backends seen %v, want all 3", seen)
	}
	for b, n := range seen {
		if n != 10 {
			t.Errorf("round robin: backend %s answered %d of 30, want 10", b, n)
		}
	}

	// The sample lines the demo prints work as printed.
	for path, want := range map[string]int{"/api/sse?n=2&interval=10ms": 200, "/api/status/503": 503, "/api/hello?latency=50ms": 200} {
		resp, err := c.Get("http://" + listen + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: status %d, want %d", path, resp.StatusCode, want)
		}
	}

	// The partner API behind the TPS pool answers a CRITICAL caller, and the pool shows its
	// four services on the admin API.
	req, _ := http.NewRequest("GET", "http://"+listen+"/partner/quote", nil)
	req.Header.Set("X-Service", "payments")
	if resp, err := c.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("partner through the TPS pool: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	var pools struct {
		Pools []struct {
			Name     string `json:"name"`
			Services []struct {
				Name string `json:"name"`
			} `json:"services"`
		} `json:"pools"`
	}
	if resp, err := c.Get("http://" + admin + "/tps"); err != nil {
		t.Fatal(err)
	} else if err := jsonDecode(resp, &pools); err != nil || len(pools.Pools) != 1 || len(pools.Pools[0].Services) != 4 {
		t.Fatalf("GET /tps: %+v %v", pools, err)
	}

	// The LLM API with the pre-created key: an OpenAI-shaped call answered by the local
	// Anthropic provider.
	llmReq, _ := http.NewRequest("POST", "http://"+listen+"/v1/chat/completions",
		strings.NewReader(`{"model":"claude-sonnet","messages":[{"role":"user","content":"hello"}]}`))
	llmReq.Header.Set("Authorization", "Bearer sk-demo")
	llmReq.Header.Set("Content-Type", "application/json")
	var chat struct {
		Object  string `json:"object"`
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
	}
	if resp, err := c.Do(llmReq); err != nil {
		t.Fatal(err)
	} else if err := jsonDecode(resp, &chat); err != nil || resp.StatusCode != 200 || chat.Object != "chat.completion" || len(chat.Choices) != 1 || chat.Choices[0].Message.Content == "" {
		t.Fatalf("demo /v1/chat/completions: %d %+v %v", resp.StatusCode, chat, err)
	}

	resp, err := c.Get("http://" + listen + "/nowhere")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || !strings.Contains(string(body), `"error"`) {
		t.Fatalf("no route: %d %s", resp.StatusCode, body)
	}

	if code := p.stop(10 * time.Second); code != 0 {
		t.Fatalf("demo exit code %d after SIGTERM", code)
	}
	// The demo backends lived inside the process: nothing answers on the gateway port now.
	if _, err := c.Get("http://" + listen + "/api/"); err == nil {
		t.Fatal("gateway still answering after SIGTERM")
	}
}

// TestVersionAndUsage checks the small commands.
func TestVersionAndUsage(t *testing.T) {
	out, err := exec.Command(ayaBin(t), "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "aya ") {
		t.Fatalf("aya version: %v %q", err, out)
	}
	cmd := exec.Command(ayaBin(t), "bogus")
	out, _ = cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "unknown command") {
		t.Fatalf("aya bogus: exit %d %q", cmd.ProcessState.ExitCode(), out)
	}
}

// TestDemoLLMWithSDKs: the demo's /v1 with the key sk-demo works with both official SDKs,
// lists a model of every local provider and an embeddings model, and serves 50 concurrent
// streams per chat model without an error.
func TestDemoLLMWithSDKs(t *testing.T) {
	listen, admin := freePort(t), freePort(t)
	p := startProc(t, []string{"demo", "--listen", listen, "--admin", admin})
	p.Admin = admin
	p.waitHealthy(5 * time.Second)

	oc := openai.NewClient(option.WithBaseURL("http://"+listen+"/v1/"), option.WithAPIKey("sk-demo"), option.WithMaxRetries(0))
	page, err := oc.Models.List(ctxTimeout(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var chat []string
	embed := ""
	for _, m := range page.Data {
		if strings.Contains(m.ID, "embedding") {
			embed = m.ID
		} else {
			chat = append(chat, m.ID)
		}
	}
	for _, want := range []string{"gpt-4o-mini", "claude-sonnet", "gemini-flash", "llama-3.1-8b"} {
		if !slices.Contains(chat, want) {
			t.Fatalf("GET /v1/models: %v lacks %s (one model per local provider)", chat, want)
		}
	}
	if embed == "" {
		t.Fatalf("GET /v1/models lists no embeddings model: %v", chat)
	}
	if e, err := oc.Embeddings.New(ctxTimeout(t, 10*time.Second), openai.EmbeddingNewParams{
		Model: embed, Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}},
	}); err != nil || len(e.Data) != 2 {
		t.Fatalf("embeddings: %v %v", e, err)
	}
	ac := anthropic.NewClient(aoption.WithBaseURL("http://"+listen+"/"), aoption.WithAPIKey("sk-demo"), aoption.WithMaxRetries(0))
	if m, err := ac.Messages.New(ctxTimeout(t, 10*time.Second), anParams("gemini-flash")); err != nil || len(m.Content) == 0 || m.Content[0].Text == "" {
		t.Fatalf("anthropic SDK → gemini-flash: %+v %v", m, err)
	}

	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Value
	for _, model := range chat {
		for range 50 {
			wg.Go(func() {
				p := oaParams(model)
				p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
				s := oc.Chat.Completions.NewStreaming(ctxTimeout(t, 60*time.Second), p)
				var acc openai.ChatCompletionAccumulator
				for s.Next() {
					acc.AddChunk(s.Current())
				}
				if err := s.Err(); err != nil || len(acc.Choices) == 0 || acc.Choices[0].Message.Content == "" || acc.Usage.CompletionTokens == 0 {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%s: %v %+v", model, err, acc.Usage))
				}
			})
		}
	}
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d of %d concurrent streams failed; first: %v", n, 50*len(chat), firstErr.Load())
	}
}
