// Package openai is the OpenAI Chat Completions wire format in both directions: it decodes a
// client's request into llm.Request and writes llm responses and stream events back as OpenAI
// JSON and SSE (the ingress side), and encodes llm.Request for an OpenAI or OpenAI-compatible
// provider and decodes its answers and streams (the provider side).
//
// It must not know HTTP serving, routing or other providers' formats.
package openai
