package llmdemo

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// words is the vocabulary of the seeded answers: one token each.
var words = [...]string{
	"the", "gateway", "routes", "every", "request", "to", "a", "healthy", "model", "and",
	"streams", "tokens", "back", "while", "budgets", "hold", "steady", "under", "load", "so",
	"latency", "stays", "low", "for", "each", "tenant", "provider", "answers", "quickly", "with",
	"clear", "usage", "numbers", "that", "match", "the", "bill", "exactly", "when", "fallbacks",
	"keep", "calls", "alive", "across", "regions", "cache", "hits", "save", "money", "time",
	"queues", "drain", "fairly", "priority", "wins", "batch", "waits", "politely", "metrics", "show",
}

// genRequest is what every API's request boils down to for generation.
type genRequest struct {
	model     string
	texts     []string // every prompt text: system, messages, tool calls and results, tool definitions
	maxTokens int      // 0: no limit
	stops     []string
	json      bool           // JSON mode: the answer is a JSON object
	schema    map[string]any // JSON schema of the answer, when given
	tool      *toolSpec      // the tool to call instead of answering in text
	seed      int64
}

type toolSpec struct {
	name   string
	schema map[string]any
}

type finish int

const (
	finishStop     finish = iota // natural end
	finishLength                 // max tokens reached
	finishStopSeq                // a stop sequence cut the answer
	finishToolCall               // the answer is a tool call
)

// generation is an answer cut into token pieces: text, or a tool call's JSON arguments.
type generation struct {
	pieces       []string
	toolName     string // set for a tool call
	promptTokens int
	finish       finish
	stopSeq      string
}

func (g *generation) outputTokens() int { return len(g.pieces) }
func (g *generation) text() string      { return strings.Join(g.pieces, "") }

func (q *genRequest) promptTokens() int {
	n := 0
	for _, t := range q.texts {
		n += CountTokens(t)
	}
	return n
}

// rng seeds a generator from the server seed and the whole request, so the same request gets
// the same answer and different prompts get different ones.
func (q *genRequest) rng(serverSeed int64) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(q.model))
	for _, t := range q.texts {
		h.Write([]byte{0})
		h.Write([]byte(t))
	}
	return rand.New(rand.NewPCG(h.Sum64()^uint64(q.seed), uint64(serverSeed)))
}

// tooLong reports whether the request's prompt and max tokens overflow the context window.
func (s *Server) tooLong(q *genRequest) (prompt int, over bool) {
	prompt = q.promptTokens()
	return prompt, s.opt.ContextWindow > 0 && prompt+q.maxTokens > s.opt.ContextWindow
}

func (s *Server) generate(q *genRequest) *generation {
	rng := q.rng(s.opt.Seed)
	g := &generation{promptTokens: q.promptTokens()}
	var full string
	switch {
	case q.tool != nil:
		g.toolName = q.tool.name
		full = marshalSample(q.tool.schema, rng)
		g.finish = finishToolCall
	case q.schema != nil:
		full = marshalSample(q.schema, rng)
	case q.json:
		b, _ := json.Marshal(map[string]string{"answer": sentence(rng)})
		full = string(b)
	default:
		full = sentence(rng)
	}
	if q.tool == nil {
		if i, stop := firstStop(full, q.stops); i >= 0 {
			full = full[:i]
			g.finish, g.stopSeq = finishStopSeq, stop
		}
	}
	g.pieces = splitTokens(full)
	if q.maxTokens > 0 && len(g.pieces) > q.maxTokens {
		g.pieces = g.pieces[:q.maxTokens]
		g.finish, g.stopSeq = finishLength, ""
	}
	return g
}

// sentence is 8 to 40 seeded words and a full stop.
func sentence(rng *rand.Rand) string {
	n := 8 + rng.IntN(33)
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		w := words[rng.IntN(len(words))]
		if i == 0 {
			w = strings.ToUpper(w[:1]) + w[1:]
		}
		b.WriteString(w)
	}
	b.WriteByte('.')
	return b.String()
}

func firstStop(s string, stops []string) (int, string) {
	best, which := -1, ""
	for _, st := range stops {
		if st == "" {
			continue
		}
		if i := strings.Index(s, st); i >= 0 && (best < 0 || i < best) {
			best, which = i, st
		}
	}
	return best, which
}

// marshalSample renders a seeded value that fits schema as compact JSON (keys sorted).
func marshalSample(schema map[string]any, rng *rand.Rand) string {
	b, err := json.Marshal(sample(schema, rng, 0))
	if err != nil {
		return "{}"
	}
	return string(b)
}

func sample(schema map[string]any, rng *rand.Rand, depth int) any {
	if enum, ok := schema["enum"].([]any); ok && len(enum) > 0 {
		return enum[rng.IntN(len(enum))]
	}
	typ, _ := schema["type"].(string)
	if typ == "" {
		if _, ok := schema["properties"]; ok || depth == 0 {
			typ = "object"
		}
	}
	switch strings.ToLower(typ) {
	case "object":
		out := map[string]any{}
		props, _ := schema["properties"].(map[string]any)
		keys := make([]string, 0, len(props))
		for k := range props {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub, _ := props[k].(map[string]any)
			if depth < 4 {
				out[k] = sample(sub, rng, depth+1)
			}
		}
		return out
	case "array":
		items, _ := schema["items"].(map[string]any)
		if depth >= 4 {
			return []any{}
		}
		return []any{sample(items, rng, depth+1)}
	case "integer":
		return rng.IntN(100)
	case "number":
		return float64(rng.IntN(1000)) / 10
	case "boolean":
		return rng.IntN(2) == 0
	case "null":
		return nil
	}
	return words[rng.IntN(len(words))]
}

// pacer spaces the pieces of a stream: the first after the time to first token, the others one
// token interval apart.
type pacer struct {
	ttft, gap time.Duration
	sent      int
}

func (s *Server) pacer() *pacer {
	return &pacer{ttft: s.opt.TimeToFirstToken, gap: s.opt.tokenInterval()}
}

func (p *pacer) next(ctx context.Context) error {
	d := p.gap
	if p.sent == 0 {
		d = p.ttft
	}
	p.sent++
	return sleep(ctx, d)
}

// wholeDelay is how long a non-streamed answer of n tokens takes.
func (s *Server) wholeDelay(n int) time.Duration {
	return s.opt.TimeToFirstToken + time.Duration(max(n-1, 0))*s.opt.tokenInterval()
}
