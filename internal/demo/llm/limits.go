package llmdemo

import (
	"net/http"
	"strconv"
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

func (s *Server) roll(now time.Time) {
	if s.win.start.IsZero() || now.Sub(s.win.start) >= time.Minute {
		s.win = window{start: now}
	}
}

// admit counts one request of promptTokens against RPM/TPM, or refuses it with a 429.
func (s *Server) admit(promptTokens int) (limitsView, *refusal) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roll(now)
	reset := time.Minute - now.Sub(s.win.start)
	if (s.opt.RPM > 0 && s.win.requests+1 > s.opt.RPM) || (s.opt.TPM > 0 && s.win.tokens+promptTokens > s.opt.TPM) {
		reason := "requests per minute"
		if s.opt.RPM <= 0 || s.win.requests+1 <= s.opt.RPM {
			reason = "tokens per minute"
		}
		secs := int((reset + time.Second - 1) / time.Second)
		return s.view(reset), &refusal{status: http.StatusTooManyRequests, retryAfter: max(secs, 1), reason: reason}
	}
	s.win.requests++
	s.win.tokens += promptTokens
	return s.view(reset), nil
}

// settle adds completion tokens to the window once they are known.
func (s *Server) settle(tokens int) {
	s.mu.Lock()
	s.roll(time.Now())
	s.win.tokens += tokens
	s.mu.Unlock()
}

func (s *Server) view(reset time.Duration) limitsView {
	v := limitsView{limitReq: nominalLimit, limitTok: nominalLimit, reset: reset}
	if s.opt.RPM > 0 {
		v.limitReq = s.opt.RPM
	}
	if s.opt.TPM > 0 {
		v.limitTok = s.opt.TPM
	}
	v.remainingReq = max(v.limitReq-s.win.requests, 0)
	v.remainingTok = max(v.limitTok-s.win.tokens, 0)
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
