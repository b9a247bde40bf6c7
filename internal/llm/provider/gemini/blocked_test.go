package gemini

import (
	"io"
	"strings"
	"testing"

	"aya/internal/llm"
)

// TestBlockedPrompt: a prompt Gemini blocks (200, promptFeedback.blockReason, no candidates)
// is a content-policy error, whole or streamed, before any event; API_KEY_INVALID is auth.
func TestBlockedPrompt(t *testing.T) {
	const body = `{"promptFeedback":{"blockReason":"SAFETY","safetyRatings":[{"category":"HARM_CATEGORY_DANGEROUS_CONTENT","probability":"HIGH"}]},"usageMetadata":{"promptTokenCount":8,"totalTokenCount":8},"modelVersion":"gemini-2.5-flash","responseId":"r1"}`
	_, err := decodeResponse([]byte(body))
	e, ok := err.(*llm.Error)
	if !ok || e.Class() != llm.ClassContentPolicy || e.Status != 400 || !strings.Contains(e.Message, "SAFETY") {
		t.Fatalf("whole answer: %v", err)
	}
	s := &streamReader{sse: llm.NewSSEReader(strings.NewReader("data: " + body + "\n\n")), body: io.NopCloser(nil)}
	if _, err := s.Next(); err == nil || llm.AsError(err).Class() != llm.ClassContentPolicy {
		t.Fatalf("stream: first Next gave %v, want a content-policy error", err)
	}
	if c := decodeError(400, []byte(`{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}`)).Class(); c != llm.ClassAuth {
		t.Errorf("API_KEY_INVALID: class %q", c)
	}
	if c := decodeError(400, []byte(`{"error":{"code":400,"message":"The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}}`)).Class(); c != llm.ClassContextLength {
		t.Errorf("too many tokens: class %q", c)
	}
	if c := decodeError(429, []byte(`{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}`)).Class(); c != llm.ClassRateLimit {
		t.Errorf("resource exhausted: class %q", c)
	}
}
