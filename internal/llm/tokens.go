package llm

import (
	"sync"

	"github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"
)

// EstimateTokens guesses the prompt's size in tokens cheaply (about four characters a token,
// plus a few tokens of framing per message; images a fixed amount): under a microsecond, for
// every call. CountTokens is the exact count, for when the guess is not good enough.
func EstimateTokens(r *Request) int {
	return size(r, func(s string) int { return (len(s) + 3) / 4 })
}

// CountTokens counts the prompt's tokens with OpenAI's o200k_base BPE (GPT-4o, 4.1 and the
// o-series; other providers' tokenizers differ by a few percent), from ranks embedded in the
// binary, never downloaded. It costs about 0.2–0.5 ms per KB of prompt, so the gateway uses it
// only where the count decides something: a key's budget, or a prompt near a deployment's
// context window. The provider's reported usage, not this, is what gets accounted.
func CountTokens(r *Request) int { return size(r, bpe.count) }

func size(r *Request, count func(string) int) int {
	const perMessage, perImage = 4, 765 // 765: OpenAI's cost of a 512x512 image tile set
	n := count(r.System)
	for _, m := range r.Messages {
		n += perMessage
		for _, p := range m.Content {
			if p.Type == PartImage {
				n += perImage
			}
			n += count(p.Text)
		}
		for _, tc := range m.ToolCalls {
			n += count(tc.Name) + count(tc.Arguments)
		}
	}
	for _, t := range r.Tools {
		n += count(t.Name) + count(t.Description) + count(string(t.Parameters))
	}
	return n
}

// bpe is the tokenizer. It is package state only because tiktoken-go's loader is: the ranks
// are read once, on the first count, from the files embedded in the binary (never a download),
// and are read-only afterwards.
var bpe tokenizer

type tokenizer struct {
	once sync.Once
	enc  *tiktoken.Tiktoken // nil if loading failed: counts fall back to 4 characters a token
}

func (t *tokenizer) count(s string) int {
	if s == "" {
		return 0
	}
	t.once.Do(func() {
		tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader())
		t.enc, _ = tiktoken.GetEncoding(tiktoken.MODEL_O200K_BASE)
	})
	if t.enc == nil {
		return (len(s) + 3) / 4
	}
	return len(t.enc.EncodeOrdinary(s))
}
