// Package anthropic is the Anthropic Messages API wire format in both directions: it decodes a
// client's POST /v1/messages into llm.Request and writes llm responses and stream events back
// with Anthropic's exact event sequence (the ingress side), and encodes llm.Request for the
// Anthropic provider and decodes its answers and streams (the provider side).
//
// It must not know HTTP serving, routing or other providers' formats.
package anthropic
