package llm_test

import (
	"testing"

	"aya/internal/llm"
	"aya/internal/llm/anthropic"
	"aya/internal/llm/openai"
)

// TestErrorClass decodes each provider's real error bodies and checks the class the fallback
// rules see.
func TestErrorClass(t *testing.T) {
	oa := openai.DecodeError
	an := anthropic.DecodeError
	cases := []struct {
		name string
		e    *llm.Error
		want string
	}{
		{"openai rate limit", oa(429, []byte(`{"error":{"message":"Rate limit reached for gpt-4o in organization org-x on requests per min (RPM): Limit 3, Used 3, Requested 1.","type":"requests","param":null,"code":"rate_limit_exceeded"}}`)), llm.ClassRateLimit},
		{"openai insufficient quota", oa(429, []byte(`{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`)), llm.ClassAuth},
		{"openai bad key", oa(401, []byte(`{"error":{"message":"Incorrect API key provided: sk-x.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`)), llm.ClassAuth},
		{"openai context length", oa(400, []byte(`{"error":{"message":"This model's maximum context length is 8192 tokens. However, you requested 9000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`)), llm.ClassContextLength},
		{"openai content policy", oa(400, []byte(`{"error":{"message":"Your request was rejected as a result of our safety system.","type":"invalid_request_error","param":null,"code":"content_policy_violation"}}`)), llm.ClassContentPolicy},
		{"azure content filter", oa(400, []byte(`{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation"}}}`)), llm.ClassContentPolicy},
		{"openai bad request", oa(400, []byte(`{"error":{"message":"Invalid value for 'temperature'.","type":"invalid_request_error","param":"temperature","code":null}}`)), llm.ClassInvalidRequest},
		{"openai server error", oa(500, []byte(`{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}`)), llm.ClassServerError},
		{"openai overloaded", oa(503, []byte(`{"error":{"message":"The engine is currently overloaded, please try again later.","type":"server_error","param":null,"code":null}}`)), llm.ClassOverloaded},
		{"vllm context length", oa(400, []byte(`{"object":"error","message":"This model's maximum context length is 4096 tokens. However, you requested 5000 tokens.","type":"BadRequestError","param":null,"code":400}`)), llm.ClassContextLength},
		{"not json 502", oa(502, []byte(`<html>bad gateway</html>`)), llm.ClassServerError},
		{"anthropic overloaded", an(529, []byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)), llm.ClassOverloaded},
		{"anthropic rate limit", an(429, []byte(`{"type":"error","error":{"type":"rate_limit_error","message":"Number of requests has exceeded your rate limit."}}`)), llm.ClassRateLimit},
		{"anthropic prompt too long", an(400, []byte(`{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}`)), llm.ClassContextLength},
		{"anthropic credit", an(400, []byte(`{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."}}`)), llm.ClassAuth},
		{"anthropic billing", an(402, []byte(`{"type":"error","error":{"type":"billing_error","message":"Payment required."}}`)), llm.ClassAuth},
		{"anthropic bad key", an(401, []byte(`{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`)), llm.ClassAuth},
		{"anthropic request too large", an(413, []byte(`{"type":"error","error":{"type":"request_too_large","message":"Request exceeds the maximum allowed number of bytes."}}`)), llm.ClassContextLength},
		{"anthropic timeout", an(504, []byte(`{"type":"error","error":{"type":"timeout_error","message":"Request timed out"}}`)), llm.ClassTimeout},
		{"anthropic invalid", an(400, []byte(`{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}`)), llm.ClassInvalidRequest},
		{"transport", llm.AsError(errString("connection refused")), llm.ClassServerError},
		{"first token timeout", llm.Errorf(504, llm.ErrTimeout, "no first token"), llm.ClassTimeout},
		{"gemini quota per day", &llm.Error{Status: 429, Type: llm.ErrRateLimit, Code: "RESOURCE_EXHAUSTED", Message: "You exceeded your current quota, please check your plan and billing details."}, llm.ClassAuth},
		{"gemini rate limit", &llm.Error{Status: 429, Type: llm.ErrRateLimit, Code: "RESOURCE_EXHAUSTED", Message: "Resource has been exhausted (e.g. check quota)."}, llm.ClassRateLimit},
	}
	for _, c := range cases {
		if got := c.e.Class(); got != c.want {
			t.Errorf("%s: Class() = %q, want %q (error %v, code %q)", c.name, got, c.want, c.e, c.e.Code)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func BenchmarkErrorClass(b *testing.B) {
	e := anthropic.DecodeError(400, []byte(`{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}`))
	b.ReportAllocs()
	for b.Loop() {
		_ = e.Class()
	}
}
