package serve

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"aya/internal/llm"
)

func TestEmbeddings(t *testing.T) {
	e := newEnv(t, nil)
	w := e.do("POST", "/v1/embeddings", `{"model":"embed","input":["one","two","three"]}`)
	var out struct {
		Data []struct {
			Index     int
			Embedding json.RawMessage
		}
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
		}
	}
	if err := json.Unmarshal(w.body.Bytes(), &out); err != nil || w.status != 200 || len(out.Data) != 3 || out.Usage.PromptTokens == 0 {
		t.Fatalf("%d %s", w.status, w.body.String())
	}
	for i, d := range out.Data {
		if d.Index != i || d.Embedding[0] != '[' {
			t.Fatalf("data[%d]: index %d, %.20s", i, d.Index, d.Embedding)
		}
	}
	w = e.do("POST", "/v1/embeddings", `{"model":"embed","input":"x","encoding_format":"base64"}`)
	if err := json.Unmarshal(w.body.Bytes(), &out); err != nil || len(out.Data) != 1 {
		t.Fatalf("%s", w.body.String())
	}
	var b64 string
	if err := json.Unmarshal(out.Data[0].Embedding, &b64); err != nil {
		t.Fatalf("base64 embedding is not a string: %s", out.Data[0].Embedding)
	}
	if raw, err := base64.StdEncoding.DecodeString(b64); err != nil || len(raw)%4 != 0 {
		t.Fatalf("base64: %v, %d bytes", err, len(raw))
	}
	if w := e.do("POST", "/v1/embeddings", `{"model":"claude","input":"x"}`); w.status != 400 || !strings.Contains(w.body.String(), "embeddings") {
		t.Fatalf("%d %s", w.status, w.body.String())
	}
}

// TestEmbeddingsThroughPools: embeddings calls are admitted by a deployment's tpm pool, weighed
// by their input and settled with the provider's usage; one that does not fit in time is a 429
// naming the tpm, and the call log has its priority.
func TestEmbeddingsThroughPools(t *testing.T) {
	e := newEnv(t, nil)
	d := e.router.models["embed"].Deployments[1]
	d.TPM = 60 // a bucket of 10 tokens, one a second
	if err := e.h.StartPools(PoolOptions{QueueTimeout: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.h.Close)
	log := NewCallLog(8)
	e.h.SetRecorder(log)
	if w := e.do("POST", "/v1/embeddings", `{"model":"embed","input":"one two"}`); w.status != 200 {
		t.Fatalf("%d %s", w.status, w.body.String())
	}
	big := `{"model":"embed","input":"` + strings.Repeat("lorem ipsum ", 20) + `"}`
	w := e.do("POST", "/v1/embeddings", big, "x-aya-batch", "false")
	if w.status != 429 || w.header.Get("Retry-After") == "" || !strings.Contains(w.body.String(), "tpm (60)") {
		t.Fatalf("a call over the bucket: %d %s", w.status, w.body.String())
	}
	calls := log.Query(CallFilter{Priority: "medium"})
	if len(calls) != 2 || calls[0].Status != 429 || calls[1].Status != 200 || calls[1].Batch {
		t.Fatalf("call log: %+v", calls)
	}
	// Settled: the minute holds what the provider reported, not the estimate.
	p := d.capacity.tokens
	p.mu.Lock()
	got := p.win.sum
	p.mu.Unlock()
	if want := float64(calls[1].InputTokens); got != want || want == 0 {
		t.Fatalf("the minute holds %v tokens, the provider reported %v", got, want)
	}
	if len(log.Query(CallFilter{Priority: "low"})) != 0 {
		t.Fatal("the priority filter matched other priorities")
	}
}

// fakeEmbedder answers embeddings with its name, or fails with err first.
type fakeEmbedder struct {
	fake
	errs  []error
	calls int
}

func (f *fakeEmbedder) Embed(_ context.Context, body []byte) ([]byte, error) {
	f.calls++
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return nil, err
	}
	return []byte(`{"name":"` + f.name + `","usage":{"prompt_tokens":3}}`), nil
}

// TestEmbedKeysAndFallbacks: embeddings follow the same provider-key lanes and fallback rules
// as chat: a key's 429 moves on to the deployment's next key, a 500 to the next deployment,
// and a client error goes back at once.
func TestEmbedKeysAndFallbacks(t *testing.T) {
	k1, k2 := &fakeEmbedder{fake: fake{name: "k1"}}, &fakeEmbedder{fake: fake{name: "k2"}}
	other := &fakeEmbedder{fake: fake{name: "other"}}
	d := &Deployment{Provider: k1, Model: "e", Weight: 1, Keys: []*ProviderKey{{Provider: k1}, {Provider: k2}}}
	m := &Model{Name: "m", Deployments: []*Deployment{d, {Provider: other, Model: "e2"}}}
	r := NewRouter([]*Model{m}, nil, time.Second)
	body := func(*Deployment) []byte { return []byte(`{}`) }
	ctx := context.Background()

	k1.errs = []error{&llm.Error{Status: 429, Type: llm.ErrRateLimit}}
	k2.errs = nil
	out, got, tries, err := r.embed(ctx, []*Deployment{d, m.Deployments[1]}, body)
	if err != nil || got != d || len(tries) != 1 || !strings.Contains(string(out), `"k2"`) {
		t.Fatalf("after one key's 429: %s, %d tries, %v", out, len(tries), err)
	}
	k1.errs, k2.errs = []error{&llm.Error{Status: 500, Type: llm.ErrServer}}, []error{&llm.Error{Status: 500, Type: llm.ErrServer}}
	out, _, _, err = r.embed(ctx, r.Plan(m, 0), body)
	if err != nil || !strings.Contains(string(out), `"other"`) {
		t.Fatalf("after a 500: %s, %v", out, err)
	}
	other.errs = []error{&llm.Error{Status: 400, Type: llm.ErrInvalidRequest, Message: "bad input"}}
	if _, _, tries, err = r.embed(ctx, []*Deployment{m.Deployments[1], d}, body); err == nil || err.Status != 400 || len(tries) != 1 {
		t.Fatalf("a client error: %v after %d tries, want the 400 at once", err, len(tries))
	}
}
