package llmdemo

import (
	"testing"

	"google.golang.org/genai"
)

// TestStreamFailures checks that each SDK reports an injected mid-stream failure as an error
// after some content arrived, and that the next stream is whole again.
func TestStreamFailures(t *testing.T) {
	tests := []struct {
		kind   Kind
		stream func(t *testing.T, base string) (deltas int, err error)
	}{
		{OpenAI, func(t *testing.T, base string) (int, error) {
			c := openAIClient(base, "k")
			st := c.Chat.Completions.NewStreaming(t.Context(), chatParams("gpt-4o"))
			n := 0
			for st.Next() {
				if ch := st.Current(); len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != "" {
					n++
				}
			}
			return n, st.Err()
		}},
		{Anthropic, func(t *testing.T, base string) (int, error) {
			c := anthropicClient(base, "k")
			st := c.Messages.NewStreaming(t.Context(), messageParams("claude-sonnet-4-5"))
			n := 0
			for st.Next() {
				if st.Current().Type == "content_block_delta" {
					n++
				}
			}
			return n, st.Err()
		}},
		{Gemini, func(t *testing.T, base string) (int, error) {
			n := 0
			for r, err := range geminiClient(t, base, "k").Models.GenerateContentStream(t.Context(), "gemini-2.5-flash", genai.Text("hi"), nil) {
				if err != nil {
					return n, err
				}
				if r.Text() != "" {
					n++
				}
			}
			return n, nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			s, base := start(t, tt.kind, Options{TokensPerSecond: -1})
			s.InjectStreamFailure(529, 1)
			n, err := tt.stream(t, base)
			if err == nil || n != 1 {
				t.Fatalf("broken stream: %d deltas, err %v; want 1 delta then an error", n, err)
			}
			if n, err = tt.stream(t, base); err != nil || n < 2 {
				t.Fatalf("next stream: %d deltas, err %v", n, err)
			}
		})
	}
}
