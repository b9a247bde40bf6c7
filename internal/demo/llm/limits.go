package llmdemo

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// window counts requests and tokens in fixed one-minute windows, which is how the caps and the
// remaining-* headers are computed. Fixed windows are cruder than the providers' token buckets
// but give tests exact, predictable numbers.
type window struct {
	start    time.Time
	requests int
	tokens   int
}

// limitsView is what the rate-limit headers report for one request.
type limitsView struct {
	limitReq, remainingReq int
	limitTok, remainingTok int
	reset                  time.Duration
}

// nominalLimit is reported for an uncapped dimension, since clients expect the headers.
const nominalLimit = 1_000_000

// window is the minute counts a call is held to: one for the server, or the key's own with
// Options.LimitPerKey. The caller holds s.mu.
func (s *Server) window(key string, now time.Time) *window {
	if !s.opt.LimitPerKey {
		key = ""
	}
	if s.wins == nil {
		s.wins = map[string]*window{}
	}
	w := s.wins[key]
	if w == nil {
		w = &window{}
		s.wins[key] = w
	}
	if w.start.IsZero() || now.Sub(w.start) >= time.Minute {
		*w = window{start: now}
	}
	return w
}

// callerKey is the API key a request carries, in any provider's header (or Gemini's ?key=).
func callerKey(r *http.Request) string {
	if k, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return k
	}
	if k := r.Header.Get("x-api-key"); k != "" {
		return k
	}
	if k := r.Header.Get("x-goog-api-key"); k != "" {
		return k
	}
	return r.URL.Query().Get("key")
}

// admit counts one request of promptTokens from key against RPM/TPM (the key's own with
// LimitPerKey), or refuses it with a 429.
func (s *Server) admit(key string, promptTokens int) (limitsView, *refusal) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.window(key, now)
	reset := time.Minute - now.Sub(w.start)
	if (s.opt.RPM > 0 && w.requests+1 > s.opt.RPM) || (s.opt.TPM > 0 && w.tokens+promptTokens > s.opt.TPM) {
		reason := "requests per minute"
		if s.opt.RPM <= 0 || w.requests+1 <= s.opt.RPM {
			reason = "tokens per minute"
		}
		secs := int((reset + time.Second - 1) / time.Second)
		return s.view(w, reset), &refusal{status: http.StatusTooManyRequests, retryAfter: max(secs, 1), reason: reason}
	}
	w.requests++
	w.tokens += promptTokens
	if s.served == nil {
		s.served = map[string]int{}
	}
	s.served[key]++
	return s.view(w, reset), nil
}

// settle adds completion tokens to key's window once they are known.
func (s *Server) settle(key string, tokens int) {
	s.mu.Lock()
	s.window(key, time.Now()).tokens += tokens
	s.mu.Unlock()
}

// Served counts the generation requests admitted with key (failed ones before admission, such
// as injected errors or rate limits, are not counted).
func (s *Server) Served(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served[key]
}

func (s *Server) view(w *window, reset time.Duration) limitsView {
	v := limitsView{limitReq: nominalLimit, limitTok: nominalLimit, reset: reset}
	if s.opt.RPM > 0 {
		v.limitReq = s.opt.RPM
	}
	if s.opt.TPM > 0 {
		v.limitTok = s.opt.TPM
	}
	v.remainingReq = max(v.limitReq-w.requests, 0)
	v.remainingTok = max(v.limitTok-w.tokens, 0)
	return v
}

// setOpenAILimits writes OpenAI's x-ratelimit-* headers (also sent by vLLM-style servers behind
// LiteLLM and the like).
func setOpenAILimits(h http.Header, v limitsView) {
	h.Set("x-ratelimit-limit-requests", strconv.Itoa(v.limitReq))
	h.Set("x-ratelimit-remaining-requests", strconv.Itoa(v.remainingReq))
	h.Set("x-ratelimit-limit-tokens", strconv.Itoa(v.limitTok))
	h.Set("x-ratelimit-remaining-tokens", strconv.Itoa(v.remainingTok))
	h.Set("x-ratelimit-reset-requests", v.reset.Round(time.Millisecond).String())
	h.Set("x-ratelimit-reset-tokens", v.reset.Round(time.Millisecond).String())
}

// setAnthropicLimits writes Anthropic's anthropic-ratelimit-* headers (reset as RFC 3339).
func setAnthropicLimits(h http.Header, v limitsView) {
	reset := time.Now().Add(v.reset).UTC().Format(time.RFC3339)
	h.Set("anthropic-ratelimit-requests-limit", strconv.Itoa(v.limitReq))
	h.Set("anthropic-ratelimit-requests-remaining", strconv.Itoa(v.remainingReq))
	h.Set("anthropic-ratelimit-requests-reset", reset)
	h.Set("anthropic-ratelimit-tokens-limit", strconv.Itoa(v.limitTok))
	h.Set("anthropic-ratelimit-tokens-remaining", strconv.Itoa(v.remainingTok))
	h.Set("anthropic-ratelimit-tokens-reset", reset)
}
