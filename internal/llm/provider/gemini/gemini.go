// Package gemini is the provider adapter for Google's Gemini API (generateContent and
// streamGenerateContent over SSE). Gemini is only a provider here, never an ingress API, so its
// wire format lives beside the adapter.
//
// It must not know routing or how answers reach clients.
package gemini

import (
	"context"
	"net/url"

	"aya/internal/llm"
	"aya/internal/llm/provider"
)

// Provider calls the Gemini API.
type Provider struct {
	c *provider.Client
}

// New makes a provider; apiKey is sent as x-goog-api-key.
func New(o provider.Options, apiKey string) *Provider {
	if apiKey != "" {
		o.Headers = append([]provider.Header{{Name: "x-goog-api-key", Value: apiKey}}, o.Headers...)
	}
	return &Provider{c: provider.NewClient(o)}
}

// Close releases idle connections.
func (p *Provider) Close() { p.c.Close() }

func path(model, method string) string {
	return "/v1beta/models/" + url.PathEscape(model) + ":" + method
}

// Chat makes a non-streamed call for model.
func (p *Provider) Chat(ctx context.Context, req *llm.Request, model string) (*llm.Response, error) {
	body, err := encodeRequest(req)
	if err != nil {
		return nil, err
	}
	return p.c.Call(ctx, path(model, "generateContent"), body, decodeError, decodeResponse)
}

// Stream starts a streamed call for model; it returns once the provider answered 200.
func (p *Provider) Stream(ctx context.Context, req *llm.Request, model string) (llm.Stream, error) {
	body, err := encodeRequest(req)
	if err != nil {
		return nil, err
	}
	resp, cancel, err := p.c.Post(ctx, path(model, "streamGenerateContent")+"?alt=sse", body, nil, decodeError)
	if err != nil {
		return nil, err
	}
	b := provider.Body{ReadCloser: resp.Body, Cancel: cancel}
	return p.c.FirstEvent(&streamReader{sse: llm.NewSSEReader(b), body: b}, cancel), nil
}
