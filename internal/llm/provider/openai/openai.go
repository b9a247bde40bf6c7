// Package openai is the provider adapter for OpenAI's Chat Completions API and the servers that
// speak it (vLLM, llama.cpp server, Ollama: type openai_compatible).
//
// It must not know routing or how answers reach clients.
package openai

import (
	"context"

	"aya/internal/llm"
	wire "aya/internal/llm/openai"
	"aya/internal/llm/provider"
)

// Provider calls one OpenAI-style endpoint.
type Provider struct {
	c *provider.Client
}

// New makes a provider; apiKey is sent as a bearer token when not empty.
func New(o provider.Options, apiKey string) *Provider {
	if apiKey != "" {
		o.Headers = append([]provider.Header{{Name: "Authorization", Value: "Bearer " + apiKey}}, o.Headers...)
	}
	return &Provider{c: provider.NewClient(o)}
}

// Close releases idle connections.
func (p *Provider) Close() { p.c.Close() }

// Chat makes a non-streamed call for model.
func (p *Provider) Chat(ctx context.Context, req *llm.Request, model string) (*llm.Response, error) {
	r := *req
	r.Stream = false
	body, err := wire.EncodeRequest(&r, model)
	if err != nil {
		return nil, err
	}
	return p.c.Call(ctx, "/chat/completions", body, wire.DecodeError, wire.DecodeResponse)
}

// Stream starts a streamed call for model; it returns once the provider answered 200.
func (p *Provider) Stream(ctx context.Context, req *llm.Request, model string) (llm.Stream, error) {
	r := *req
	r.Stream = true
	body, err := wire.EncodeRequest(&r, model)
	if err != nil {
		return nil, err
	}
	resp, cancel, err := p.c.Post(ctx, "/chat/completions", body, nil, wire.DecodeError)
	if err != nil {
		return nil, err
	}
	return p.c.FirstEvent(wire.NewStreamReader(provider.Body{ReadCloser: resp.Body, Cancel: cancel}), cancel), nil
}

// Embed posts an embeddings request (already naming the provider's model) and returns the
// provider's answer as it is: the data order, encoding_format (float or base64) and usage are
// the provider's to get right, and re-encoding vectors would only cost time.
func (p *Provider) Embed(ctx context.Context, body []byte) ([]byte, error) {
	resp, cancel, err := p.c.Post(ctx, "/embeddings", body, nil, wire.DecodeError)
	if err != nil {
		return nil, err
	}
	defer cancel()
	defer resp.Body.Close()
	return provider.ReadAll(resp.Body)
}
