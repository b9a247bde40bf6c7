// Package llm is aya's unified model of an LLM chat call: one request, response, stream-event
// and error type that every ingress API (OpenAI, Anthropic) decodes into and every provider
// adapter encodes from, so that any client API can reach any provider. It also holds the
// small pieces both sides share: the SSE reader and token usage arithmetic.
//
// It must not know any provider's wire format (those live in internal/llm/openai,
// internal/llm/anthropic and the adapters in internal/llm/provider), HTTP serving, config or
// routing.
package llm
