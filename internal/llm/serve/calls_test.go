package serve

import (
	"encoding/json"
	"testing"
	"time"
)

func TestCallLogRingAndFilter(t *testing.T) {
	l := NewCallLog(3)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, c := range []Call{
		{Key: "a", Model: "gpt", Status: 200},
		{Key: "b", Model: "gpt", Status: 429},
		{Key: "a", Model: "claude", Status: 200},
		{Key: "a", Model: "gpt", Status: 500, Priority: "critical"},
	} {
		c.Time = t0.Add(time.Duration(i) * time.Second)
		l.RecordCall(&c)
	}
	all := l.Query(CallFilter{})
	if len(all) != 3 || all[0].Status != 500 || all[2].Status != 429 {
		t.Fatalf("ring holds %+v, want the newest 3, newest first", all)
	}
	if got := l.Query(CallFilter{Key: "a"}); len(got) != 2 {
		t.Fatalf("key filter: %d calls, want 2", len(got))
	}
	if got := l.Query(CallFilter{Errors: true}); len(got) != 2 {
		t.Fatalf("errors filter: %d calls, want 2", len(got))
	}
	if got := l.Query(CallFilter{Since: t0.Add(3 * time.Second)}); len(got) != 1 {
		t.Fatalf("since filter: %d calls, want 1", len(got))
	}
	if got := l.Query(CallFilter{Priority: "critical"}); len(got) != 1 || got[0].Status != 500 {
		t.Fatalf("priority filter: %+v", got)
	}
	if got := l.Query(CallFilter{Limit: 1}); len(got) != 1 || got[0].Status != 500 {
		t.Fatalf("limit: %+v", got)
	}
}

// TestHandlerRecordsEveryCall: successes carry the provider's usage and cost, streams their
// time to first token, and failures their status, whether aya or a provider refused.
func TestHandlerRecordsEveryCall(t *testing.T) {
	e := newEnv(t, nil)
	log := NewCallLog(16)
	e.h.SetRecorder(log)
	w := e.do("POST", "/v1/chat/completions", body(oaBody, "gpt", ""))
	if w.status != 200 {
		t.Fatalf("chat: %d %s", w.status, w.body.String())
	}
	var resp struct {
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(w.body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	if w := e.do("POST", "/v1/messages", body(anBody, "claude", `,"stream":true`)); w.status != 200 {
		t.Fatalf("stream: %d %s", w.status, w.body.String())
	}
	if w := e.do("POST", "/v1/chat/completions", body(oaBody, "nope", "")); w.status != 404 {
		t.Fatalf("unknown model: %d", w.status)
	}
	calls := log.Query(CallFilter{})
	if len(calls) != 3 {
		t.Fatalf("%d calls recorded, want 3: %+v", len(calls), calls)
	}
	missing, stream, chat := calls[0], calls[1], calls[2]
	if chat.Status != 200 || chat.Model != "gpt" || chat.Provider != "oa" || chat.Deployment != "gpt-4o" || chat.API != "chat_completions" ||
		chat.RequestID != "req-1" || chat.Key != "anonymous" || chat.Priority != "medium" || chat.Batch {
		t.Fatalf("chat call: %+v", chat)
	}
	if chat.InputTokens != resp.Usage.PromptTokens || chat.OutputTokens != resp.Usage.CompletionTokens || chat.CostUSD <= 0 {
		t.Fatalf("chat call usage %d/%d $%v, the provider reported %d/%d", chat.InputTokens, chat.OutputTokens, chat.CostUSD,
			resp.Usage.PromptTokens, resp.Usage.CompletionTokens)
	}
	if !stream.Stream || stream.Status != 200 || stream.TTFT <= 0 || stream.OutputTokens == 0 || stream.API != "messages" {
		t.Fatalf("stream call: %+v", stream)
	}
	if missing.Status != 404 || missing.Error == "" || missing.Provider != "" {
		t.Fatalf("unknown-model call: %+v", missing)
	}
}
