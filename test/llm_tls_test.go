package test

import (
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	llmdemo "aya/internal/demo/llm"
)

// TestLLMProviderTLS: a provider behind https with a private CA. With `tls.ca` naming that CA,
// aya verifies the provider and calls it (plain and streamed); the same provider without it is
// refused as unverified, and the client gets a 502, not an answer from an unverified server.
func TestLLMProviderTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(llmdemo.New(llmdemo.OpenAI, llmdemo.Options{TokensPerSecond: -1}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	web := freePort(t)
	startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s"}]
admin: {address: "{{ADMIN}}"}
llm:
  providers:
    - name: private
      type: openai
      base_url: "%s/v1"
      api_key: sk-upstream
      tls: {ca: "%s"}
    - {name: unverified, type: openai, base_url: "%s/v1", api_key: sk-upstream}
  models:
    - {name: gpt, deployments: [{provider: private, model: gpt-4o}]}
    - {name: gpt-unverified, deployments: [{provider: unverified, model: gpt-4o}]}
`, web, srv.URL, ca, srv.URL))
	c := openai.NewClient(option.WithBaseURL("http://"+web+"/v1/"), option.WithAPIKey("sk-client"), option.WithMaxRetries(0))

	r, err := c.Chat.Completions.New(ctxTimeout(t, 10*time.Second), oaParams("gpt"))
	if err != nil || r.Choices[0].Message.Content == "" {
		t.Fatalf("through a provider verified by tls.ca: %+v %v", r, err)
	}
	s := c.Chat.Completions.NewStreaming(ctxTimeout(t, 10*time.Second), oaParams("gpt"))
	var acc openai.ChatCompletionAccumulator
	for s.Next() {
		acc.AddChunk(s.Current())
	}
	if err := s.Err(); err != nil || len(acc.Choices) == 0 || acc.Choices[0].Message.Content == "" {
		t.Fatalf("stream through a provider verified by tls.ca: %v", err)
	}

	_, err = c.Chat.Completions.New(ctxTimeout(t, 10*time.Second), oaParams("gpt-unverified"))
	var apiErr *openai.Error
	if err == nil || !errors.As(err, &apiErr) || apiErr.StatusCode != 502 || !strings.Contains(apiErr.Message, "certificate") {
		t.Fatalf("a provider with a certificate aya cannot verify: %v, want a 502 naming the certificate", err)
	}
}
