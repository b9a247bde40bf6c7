// Package llmdemo runs protocol-faithful local LLM providers on loopback for `aya demo` and for
// tests of aya's LLM gateway: OpenAI (chat completions, embeddings, models), Anthropic
// (messages, models), Gemini (generateContent, streamGenerateContent, models) and an
// OpenAI-compatible self-hosted server (vLLM / llama.cpp style) that also exposes Prometheus
// load metrics (vllm:num_requests_running|waiting, vllm:gpu_cache_usage_perc,
// llamacpp:requests_processing|deferred) read live from its in-flight requests.
//
// Use: s := llmdemo.New(llmdemo.Anthropic, llmdemo.Options{...}); addr, err := s.Start(ctx,
// "127.0.0.1:0"); then s.InjectStatus(529, 3) or s.InjectStreamFailure(500, 1) for fallback
// tests, and s.Requests() / s.InFlight() to see what reached the provider.
//
// Faithful: request and response JSON shapes, SSE framing (OpenAI data-only lines ending with
// `data: [DONE]`, `usage: null` chunks and the choices-less usage chunk under include_usage,
// one finish_reason; Anthropic `event:` lines, ping, block index 0, running output_tokens,
// stop_sequence always present; Gemini `alt=sse` chunks with usageMetadata), tool calls
// (forced by tool_choice / toolConfig mode ANY + allowed names, OpenAI argument deltas with
// index and a first delta carrying id/type/name/"", Anthropic input_json_delta fragments),
// JSON mode and json_schema, stop sequences, max tokens (length / max_tokens / MAX_TOKENS),
// usage fields, x-request-id / request-id and rate-limit headers, auth (OpenAI bearer;
// Anthropic x-api-key or bearer, as anthropic-sdk-go v2 sends, plus anthropic-version; Gemini
// x-goog-api-key or ?key=), each API's error bodies and statuses (401, 404 model not found,
// 400 for a missing max_tokens or an overflowing ContextWindow, 429 with retry-after, 500, Anthropic 529) and in-stream error
// events. Policy refusals (BlockedWords) take each API's real shape: OpenAI 400
// content_policy_violation, Gemini 200 promptFeedback.blockReason without candidates, Anthropic
// 200 stop_reason refusal with stop_details; InsufficientQuota is OpenAI's 429
// insufficient_quota; LimitPerKey counts RPM/TPM per API key, as providers do per key or
// organization. The official openai-go v3, anthropic-sdk-go v2 and genai clients are pointed at these
// servers in the tests.
//
// Simplified: the text is seeded nonsense, the same for the same request. Tokens are counted by
// CountTokens (each run of letters or digits is one token, so is every other non-space
// character); a request's prompt tokens are the sum over its texts: system, message contents,
// tool calls and results, and each tool's name, description and parameters JSON. Images are
// accepted and not counted. With tools and tool_choice auto, the first tool is called unless
// the last message is a tool result, so tool loops end. Rate caps use fixed one-minute windows;
// an uncapped server reports a nominal limit of 1,000,000. Not served: n>1, logprobs, audio,
// files, batches, prompt caching, Responses API, countTokens.
//
// It is built on plain net/http and must not know about the gateway, config, routes or
// upstreams: a provider that shares code with the gateway could hide the gateway's bugs.
package llmdemo
