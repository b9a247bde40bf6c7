// Package llmdemo runs protocol-faithful local LLM providers on loopback for `aya demo` and for
// tests of aya's LLM gateway: OpenAI (chat completions, embeddings, models), Anthropic
// (messages, models), Gemini (generateContent, streamGenerateContent) and an OpenAI-compatible
// self-hosted server (vLLM / llama.cpp style) that also exposes Prometheus load metrics.
//
// Faithful: request and response JSON shapes, SSE framing (OpenAI data-only lines ending with
// `data: [DONE]` and the include_usage chunk; Anthropic `event:` lines, block indexes, ping,
// running output_tokens; Gemini `alt=sse` chunks), tool calls (forced by tool_choice / toolConfig,
// streamed as argument fragments), JSON mode, stop sequences, max tokens, usage fields, request
// id and rate-limit headers, auth headers and each API's error bodies and status codes (401,
// 404 model not found, 429 with retry-after, 500, Anthropic 529). The official openai-go,
// anthropic-sdk-go and genai clients are pointed at these servers in the tests.
//
// Simplified: the text is seeded nonsense; tokens are counted by CountTokens (each run of
// letters or digits is one token, so is every other non-space character), the same rule for
// prompts and answers, so usage agrees with the text sent; images are accepted but not counted;
// n>1, logprobs, audio, files, batches and prompt caching are not served.
//
// It is built on plain net/http and must not know about the gateway, config, routes or
// upstreams: a provider that shares code with the gateway could hide the gateway's bugs.
package llmdemo
