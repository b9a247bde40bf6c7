// Package anthropic is the provider adapter for Anthropic's Messages API.
//
// It must not know routing or how answers reach clients.
package anthropic

import (
	"context"

	"aya/internal/llm"
	wire "aya/internal/llm/anthropic"
	"aya/internal/llm/provider"
)

// Version is the anthropic-version aya speaks.
const Version = "2023-06-01"

// Provider calls the Messages API.
type Provider struct {
	c *provider.Client
	// defaultMaxTokens fills max_tokens, which Anthropic requires, when an OpenAI client left
	// it out.
	defaultMaxTokens int
}

// New makes a provider; apiKey is sent as x-api-key.
func New(o provider.Options, apiKey string, defaultMaxTokens int) *Provider {
	hs := []provider.Header{{Name: "anthropic-version", Value: Version}}
	if apiKey != "" {
		hs = append(hs, provider.Header{Name: "x-api-key", Value: apiKey})
	}
	o.Headers = append(hs, o.Headers...)
	return &Provider{c: provider.NewClient(o), defaultMaxTokens: defaultMaxTokens}
}

// Close releases idle connections.
func (p *Provider) Close() { p.c.Close() }

// Chat makes a non-streamed call for model.
func (p *Provider) Chat(ctx context.Context, req *llm.Request, model string) (*llm.Response, error) {
	r := *req
	r.Stream = false
	body, err := wire.EncodeRequest(&r, model, p.defaultMaxTokens)
	if err != nil {
		return nil, err
	}
	return p.c.Call(ctx, "/v1/messages", body, wire.DecodeError, wire.DecodeResponse)
}

// Stream starts a streamed call for model; it returns once the provider answered 200.
func (p *Provider) Stream(ctx context.Context, req *llm.Request, model string) (llm.Stream, error) {
	r := *req
	r.Stream = true
	body, err := wire.EncodeRequest(&r, model, p.defaultMaxTokens)
	if err != nil {
		return nil, err
	}
	resp, cancel, err := p.c.Post(ctx, "/v1/messages", body, nil, wire.DecodeError)
	if err != nil {
		return nil, err
	}
	return p.c.FirstEvent(wire.NewStreamReader(provider.Body{ReadCloser: resp.Body, Cancel: cancel}), cancel), nil
}
