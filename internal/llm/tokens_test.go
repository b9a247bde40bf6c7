package llm

import (
	"strings"
	"testing"
)

// TestEstimateTokensCountsBPE: o200k_base counts, from the embedded ranks, the way OpenAI's
// tokenizer does: "hello world" is 2 tokens; framing and images add their fixed amounts.
func TestEstimateTokensCountsBPE(t *testing.T) {
	if n := bpe.count("hello world"); n != 2 {
		t.Fatalf(`"hello world" = %d tokens, want 2`, n)
	}
	if n := bpe.count(strings.Repeat("token ", 1000)); n < 900 || n > 1100 {
		t.Fatalf("1000 repeated words = %d tokens", n)
	}
	r := &Request{
		System: "be brief",
		Messages: []Message{
			{Role: RoleUser, Content: []Part{{Type: PartText, Text: "hello world"}, {Type: PartImage}}},
		},
	}
	want := bpe.count("be brief") + 4 + 2 + 765
	if got := CountTokens(r); got != want {
		t.Fatalf("CountTokens = %d, want %d", got, want)
	}
	if got := EstimateTokens(r); got != (8+3)/4+4+(11+3)/4+765 {
		t.Fatalf("EstimateTokens = %d", got)
	}
}

func BenchmarkCountTokens(b *testing.B) {
	r := &Request{System: "You are a helpful assistant.", Messages: []Message{
		{Role: RoleUser, Content: []Part{{Type: PartText, Text: strings.Repeat("The quick brown fox jumps over the lazy dog. ", 20)}}},
	}}
	CountTokens(r)
	b.ReportAllocs()
	for b.Loop() {
		CountTokens(r)
	}
}
