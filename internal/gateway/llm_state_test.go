package gateway

import (
	"testing"
	"time"

	"aya/internal/llm/serve"
)

// BenchmarkLLMRecordCall is what the call log and the metrics cost per LLM call.
func BenchmarkLLMRecordCall(b *testing.B) {
	st := newLLMState()
	c := &serve.Call{Time: time.Now(), RequestID: "r", Key: "team", API: "chat_completions", Model: "gpt", Provider: "oa",
		Deployment: "gpt-4o", Stream: true, InputTokens: 20, OutputTokens: 16, CostUSD: 0.0001, TTFT: time.Millisecond, Duration: 5 * time.Millisecond, Status: 200}
	b.ReportAllocs()
	for b.Loop() {
		st.RecordCall(c)
	}
}
