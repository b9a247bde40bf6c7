package llmdemo

import "time"

// Kind names the API a Server speaks.
type Kind int

// The provider APIs a Server can speak.
const (
	OpenAI           Kind = iota // api.openai.com: /v1/chat/completions, /v1/embeddings, /v1/models
	Anthropic                    // api.anthropic.com: /v1/messages, /v1/models
	Gemini                       // generativelanguage.googleapis.com: /v1beta/models/{m}:generateContent
	OpenAICompatible             // vLLM / llama.cpp server: the OpenAI API plus Prometheus /metrics
)

func (k Kind) String() string {
	switch k {
	case OpenAI:
		return "openai"
	case Anthropic:
		return "anthropic"
	case Gemini:
		return "gemini"
	case OpenAICompatible:
		return "openai_compatible"
	}
	return "unknown"
}

// Options shape a local provider. The zero value serves the kind's default models to any key,
// with no caps and no injected errors.
type Options struct {
	// Name labels the server in ids, owned_by and metrics (default: the kind's name).
	Name string
	// Models are the model ids served; ids may contain "/". Empty: DefaultModels(kind).
	Models []string
	// APIKeys are the accepted keys; empty accepts any key, or none.
	APIKeys []string
	// Seed makes the generated text differ between servers while staying deterministic per request.
	Seed int64
	// TimeToFirstToken delays the first token (and a whole non-streamed answer).
	TimeToFirstToken time.Duration
	// TokensPerSecond paces generated tokens; 0 means 400 (2.5 ms apart), negative means no pacing.
	TokensPerSecond float64
	// ErrorRate in [0,1] is the share of requests answered with a 500 in the API's error shape.
	ErrorRate float64
	// RPM and TPM cap requests and tokens (prompt + completion) per minute; above them the
	// server answers 429 with retry-after. 0 means no cap.
	RPM, TPM int
	// LimitPerKey holds each API key to its own RPM and TPM (as OpenAI and Anthropic limit
	// each organization or key), with the rate-limit headers of the caller's key.
	LimitPerKey bool
	// BlockedWords make a prompt containing any of them (case-insensitive) refused the way
	// each API refuses on policy: OpenAI 400 content_policy_violation, Gemini 200 with
	// promptFeedback.blockReason SAFETY and no candidates, Anthropic 200 with stop_reason
	// refusal and no content. Empty: nothing is refused.
	BlockedWords []string
	// InsufficientQuota (OpenAI) answers every generation request 429 insufficient_quota, as
	// OpenAI does for an account out of credit.
	InsufficientQuota bool
	// ContextWindow caps prompt tokens plus the requested max tokens; above it the server answers
	// each API's context-length error (OpenAI 400 context_length_exceeded, Anthropic 400 "prompt
	// is too long", Gemini 400 INVALID_ARGUMENT). 0 means no cap.
	ContextWindow int
	// MaxRunning (OpenAICompatible) is how many requests run at once, like vLLM's max_num_seqs;
	// the others wait and count in num_requests_waiting. 0 means no limit.
	MaxRunning int
	// KVCacheTokens (OpenAICompatible) is the cache size behind gpu_cache_usage_perc: the
	// tokens of running requests over this; 0 means 8192.
	KVCacheTokens int
	// EmbeddingDims is the default embedding length when a request gives no `dimensions`; 0 means 64.
	EmbeddingDims int
}

// DefaultModels are the models a kind serves when Options.Models is empty.
func DefaultModels(k Kind) []string {
	switch k {
	case Anthropic:
		return []string{"claude-sonnet-4-5", "claude-haiku-4-5"}
	case Gemini:
		return []string{"gemini-2.5-flash", "gemini-2.5-pro"}
	case OpenAICompatible:
		return []string{"meta-llama/Llama-3.1-8B-Instruct"}
	}
	return []string{"gpt-4o", "gpt-4o-mini", "text-embedding-3-small"}
}

func (o Options) withDefaults(k Kind) Options {
	if o.Name == "" {
		o.Name = k.String()
	}
	if len(o.Models) == 0 {
		o.Models = DefaultModels(k)
	}
	if o.TokensPerSecond == 0 {
		o.TokensPerSecond = 400
	}
	if o.KVCacheTokens <= 0 {
		o.KVCacheTokens = 8192
	}
	if o.EmbeddingDims <= 0 {
		o.EmbeddingDims = 64
	}
	return o
}

// tokenInterval is the pause between two generated tokens.
func (o Options) tokenInterval() time.Duration {
	if o.TokensPerSecond < 0 {
		return 0
	}
	return time.Duration(float64(time.Second) / o.TokensPerSecond)
}
