package provider_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	llmdemo "aya/internal/demo/llm"
	"aya/internal/llm"
	"aya/internal/llm/provider"
	"aya/internal/llm/provider/anthropic"
	"aya/internal/llm/provider/gemini"
	"aya/internal/llm/provider/openai"
)

type chatter interface {
	Chat(ctx context.Context, req *llm.Request, model string) (*llm.Response, error)
	Stream(ctx context.Context, req *llm.Request, model string) (llm.Stream, error)
}

type fixture struct {
	name  string
	srv   *llmdemo.Server
	p     chatter
	model string
}

func fixtures(t *testing.T) []fixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	o := provider.Options{Connect: time.Second, FirstByte: 5 * time.Second, Total: 10 * time.Second}
	oa, oaAddr, err := llmdemo.Start(ctx, "127.0.0.1:0", llmdemo.OpenAI, llmdemo.Options{TokensPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	an, anAddr, err := llmdemo.Start(ctx, "127.0.0.1:0", llmdemo.Anthropic, llmdemo.Options{TokensPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	ge, geAddr, err := llmdemo.Start(ctx, "127.0.0.1:0", llmdemo.Gemini, llmdemo.Options{TokensPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	oo, ao, gop := o, o, o
	oo.BaseURL = "http://" + oaAddr.String() + "/v1"
	ao.BaseURL = "http://" + anAddr.String()
	gop.BaseURL = "http://" + geAddr.String()
	return []fixture{
		{"openai", oa, openai.New(oo, "sk-test"), "gpt-4o"},
		{"anthropic", an, anthropic.New(ao, "sk-ant", 256), "claude-sonnet-4-5"},
		{"gemini", ge, gemini.New(gop, "g-key"), "gemini-2.5-flash"},
	}
}

func request() *llm.Request {
	return &llm.Request{System: "You are terse.", MaxTokens: 20,
		Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{{Type: llm.PartText, Text: "Say something."}}}}}
}

func TestChat(t *testing.T) {
	for _, f := range fixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			r, err := f.p.Chat(context.Background(), request(), f.model)
			if err != nil {
				t.Fatal(err)
			}
			if r.Text == "" || r.Usage.Input == 0 || r.Usage.Output == 0 || r.Finish == "" {
				t.Fatalf("incomplete answer: %+v", r)
			}
		})
	}
}

func TestStream(t *testing.T) {
	for _, f := range fixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			s, err := f.p.Stream(context.Background(), request(), f.model)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var text strings.Builder
			var usage llm.Usage
			var finish string
			for {
				ev, err := s.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				switch ev.Kind {
				case llm.EventText:
					text.WriteString(ev.Text)
				case llm.EventUsage:
					usage = ev.Usage
				case llm.EventFinish:
					finish = ev.Finish
				}
			}
			// Usage arrives even though nobody asked: the adapter forces it for accounting.
			if text.Len() == 0 || usage.Input == 0 || usage.Output == 0 || finish == "" {
				t.Fatalf("text %q usage %+v finish %q", text.String(), usage, finish)
			}
		})
	}
}

func TestToolCall(t *testing.T) {
	req := request()
	req.Tools = []llm.Tool{{Name: "get_weather", Parameters: []byte(`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`)}}
	req.ToolChoice = &llm.ToolChoice{Mode: llm.ToolForced, Name: "get_weather"}
	for _, f := range fixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			r, err := f.p.Chat(context.Background(), req, f.model)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.ToolCalls) != 1 || r.ToolCalls[0].Name != "get_weather" || r.Finish != llm.FinishToolCalls {
				t.Fatalf("got %+v", r)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	for _, f := range fixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			f.srv.InjectStatus(429, 1)
			_, err := f.p.Chat(context.Background(), request(), f.model)
			var e *llm.Error
			if !errors.As(err, &e) || e.Status != 429 || e.Type != llm.ErrRateLimit || e.RetryAfter != time.Second {
				t.Fatalf("got %#v", err)
			}
			f.srv.InjectStatus(500, 1)
			_, err = f.p.Stream(context.Background(), request(), f.model)
			if !errors.As(err, &e) || e.Status != 500 || !e.Retryable() {
				t.Fatalf("got %#v", err)
			}
			_, err = f.p.Chat(context.Background(), request(), "no-such-model")
			if !errors.As(err, &e) || e.Status != 404 || e.Retryable() {
				t.Fatalf("got %#v", err)
			}
		})
	}
}

// TestFirstTokenTimeout: a provider that is slow to its first token fails with a retryable
// timeout within first_token, streamed (the head comes at once, the token late) or not.
func TestFirstTokenTimeout(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, kind := range []llmdemo.Kind{llmdemo.OpenAI, llmdemo.Anthropic, llmdemo.Gemini} {
		_, addr, err := llmdemo.Start(ctx, "127.0.0.1:0", kind, llmdemo.Options{TimeToFirstToken: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		o := provider.Options{BaseURL: "http://" + addr.String(), Connect: time.Second, FirstByte: 150 * time.Millisecond, Total: 10 * time.Second}
		var p chatter
		model := llmdemo.DefaultModels(kind)[0]
		switch kind {
		case llmdemo.OpenAI:
			o.BaseURL += "/v1"
			p = openai.New(o, "k")
		case llmdemo.Anthropic:
			p = anthropic.New(o, "k", 16)
		default:
			p = gemini.New(o, "k")
		}
		start := time.Now()
		_, err = p.Chat(ctx, request(), model)
		var e *llm.Error
		if !errors.As(err, &e) || !e.Retryable() || time.Since(start) > 2*time.Second {
			t.Fatalf("%v chat: %v after %v", kind, err, time.Since(start))
		}
		start = time.Now()
		s, err := p.Stream(ctx, request(), model)
		if err == nil {
			_, err = s.Next()
			s.Close()
		}
		if !errors.As(err, &e) || e.Type != llm.ErrTimeout || time.Since(start) > 2*time.Second {
			t.Fatalf("%v stream: %v after %v", kind, err, time.Since(start))
		}
	}
}
