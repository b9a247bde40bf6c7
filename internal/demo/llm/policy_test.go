package llmdemo

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestBlockedWords: each API refuses a prompt with a blocked word in its own shape, streamed
// or not; other prompts are answered.
func TestBlockedWords(t *testing.T) {
	o := Options{BlockedWords: []string{"Forbidden"}, TokensPerSecond: -1}
	_, oa := start(t, OpenAI, o)
	_, an := start(t, Anthropic, o)
	_, gm := start(t, Gemini, o)
	anHdr := map[string]string{"anthropic-version": "2023-06-01"}
	cases := []struct {
		name, url string
		hdr       map[string]string
		body      string
		status    int
		want      []string
	}{
		{"openai", oa + "/v1/chat/completions", nil, `{"model":"gpt-4o","messages":[{"role":"user","content":"a forbidden thing"}]}`, 400,
			[]string{`"code":"content_policy_violation"`, `"type":"invalid_request_error"`, `"param":null`, "safety system"}},
		{"openai stream", oa + "/v1/chat/completions", nil, `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"FORBIDDEN"}]}`, 400,
			[]string{`"code":"content_policy_violation"`}},
		{"anthropic", an + "/v1/messages", anHdr, `{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[{"role":"user","content":"forbidden"}]}`, 200,
			[]string{`"stop_reason":"refusal"`, `"content":[]`, `"stop_details"`}},
		{"anthropic stream", an + "/v1/messages", anHdr, `{"model":"claude-sonnet-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"forbidden"}]}`, 200,
			[]string{"event: message_start", `"stop_reason":"refusal"`, "event: message_stop"}},
		{"gemini", gm + "/v1beta/models/gemini-2.5-flash:generateContent", nil, `{"contents":[{"parts":[{"text":"forbidden"}]}]}`, 200,
			[]string{`"blockReason":"SAFETY"`, `"promptTokenCount"`}},
		{"gemini stream", gm + "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", nil, `{"contents":[{"parts":[{"text":"forbidden"}]}]}`, 200,
			[]string{`data: {`, `"blockReason":"SAFETY"`}},
	}
	for _, c := range cases {
		resp, lines := post(t, c.url, c.hdr, c.body)
		var all []string
		for _, l := range lines {
			all = append(all, l.text)
		}
		body := strings.Join(all, "\n")
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d: %s", c.name, resp.StatusCode, c.status, body)
		}
		for _, w := range c.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: %q missing from %s", c.name, w, body)
			}
		}
		if strings.Contains(body, `"candidates"`) || strings.Contains(body, "content_block_start") {
			t.Errorf("%s: a refusal carries content: %s", c.name, body)
		}
	}
	if resp, _ := post(t, oa+"/v1/chat/completions", nil, `{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}]}`); resp.StatusCode != 200 {
		t.Errorf("an allowed prompt: status %d", resp.StatusCode)
	}
}

// TestInsufficientQuota: OpenAI's 429 for an account out of credit.
func TestInsufficientQuota(t *testing.T) {
	_, oa := start(t, OpenAI, Options{InsufficientQuota: true})
	resp, lines := post(t, oa+"/v1/chat/completions", nil, `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`)
	var body struct{ Error map[string]any }
	if err := json.Unmarshal([]byte(lines[0].text), &body); err != nil || resp.StatusCode != 429 || body.Error["code"] != "insufficient_quota" || body.Error["type"] != "insufficient_quota" {
		t.Fatalf("status %d, body %v (%v)", resp.StatusCode, lines, err)
	}
}

// TestLimitPerKey: with LimitPerKey each API key has its own RPM and its own headers.
func TestLimitPerKey(t *testing.T) {
	s, oa := start(t, OpenAI, Options{RPM: 2, LimitPerKey: true, TokensPerSecond: -1})
	const body = `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`
	for _, k := range []string{"k1", "k2"} {
		hdr := map[string]string{"Authorization": "Bearer " + k}
		for i, want := range []int{200, 200, 429} {
			resp, _ := post(t, oa+"/v1/chat/completions", hdr, body)
			if resp.StatusCode != want {
				t.Fatalf("key %s call %d: status %d, want %d", k, i+1, resp.StatusCode, want)
			}
			if rem := resp.Header.Get("x-ratelimit-remaining-requests"); want == 200 && rem != string(rune('1'-i)) {
				t.Fatalf("key %s call %d: remaining %s", k, i+1, rem)
			}
		}
		if s.Served(k) != 2 {
			t.Fatalf("key %s served %d", k, s.Served(k))
		}
	}
}
