package openai

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"aya/internal/llm"
)

func streamEvents() []llm.Event {
	return []llm.Event{
		{Kind: llm.EventStart, ID: "chatcmpl-1", Model: "m"},
		{Kind: llm.EventText, Text: "Hel"},
		{Kind: llm.EventText, Text: "lo"},
		{Kind: llm.EventToolStart, Index: 0, ID: "call_1", Name: "f"},
		{Kind: llm.EventToolArgs, Index: 0, Text: `{"a":`},
		{Kind: llm.EventToolArgs, Index: 0, Text: `1}`},
		{Kind: llm.EventUsage, Usage: llm.Usage{Input: 10, Output: 3, CachedInput: 2}},
		{Kind: llm.EventFinish, Finish: "tool_calls"},
	}
}

func writeStream(t *testing.T, includeUsage bool) string {
	t.Helper()
	var b bytes.Buffer
	flushed, flushes := 0, 0
	w := NewStreamWriter(&b, func() error { flushed, flushes = b.Len(), flushes+1; return nil }, includeUsage, 7)
	for _, ev := range streamEvents() {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
		if flushed != b.Len() {
			t.Fatalf("%v written but not flushed: each event must be flushed before the next is awaited", ev.Kind)
		}
	}
	before := flushes
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	if flushed != b.Len() || flushes != before+1 {
		t.Fatalf("End flushed %d times, the last at %d of %d bytes: want once, after its last event", flushes-before, flushed, b.Len())
	}
	return b.String()
}

func TestStreamWriterWithUsage(t *testing.T) {
	got := writeStream(t, true)
	want := `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"m","system_fingerprint":null,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null,"logprobs":null}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"m","system_fingerprint":null,"choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null,"logprobs":null}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"m","system_fingerprint":null,"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null,"logprobs":null}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"m","system_fingerprint":null,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]},"finish_reason":null,"logprobs":null}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"m","system_fingerprint":null,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":"}}]},"finish_reason":null,"logprobs":null}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"m","system_fingerprint":null,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]},"finish_reason":null,"logprobs":null}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"m","system_fingerprint":null,"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls","logprobs":null}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"m","system_fingerprint":null,"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":3,"total_tokens":13,"prompt_tokens_details":{"cached_tokens":2},"completion_tokens_details":{"reasoning_tokens":0}}}

data: [DONE]

`
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestStreamWriterWithoutUsage(t *testing.T) {
	got := writeStream(t, false)
	if strings.Contains(got, `"usage"`) {
		t.Fatalf("usage sent to a client that did not ask for it:\n%s", got)
	}
	if n := strings.Count(got, `"finish_reason":"`); n != 1 {
		t.Fatalf("%d chunks with a finish_reason, want exactly 1", n)
	}
	if !strings.HasSuffix(got, "data: [DONE]\n\n") || strings.Contains(got, "event:") {
		t.Fatalf("want data-only SSE ending in [DONE]:\n%s", got)
	}
}

// TestStreamRoundTrip reads what the writer wrote: the provider-side reader and the
// ingress-side writer agree on the format.
func TestStreamRoundTrip(t *testing.T) {
	r := NewStreamReader(io.NopCloser(strings.NewReader(writeStream(t, true))))
	var got []llm.Event
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev)
	}
	want := streamEvents()
	// The writer holds finish before usage; the reader sees them in wire order.
	want[6], want[7] = want[7], want[6]
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

func TestStreamReaderProviderError(t *testing.T) {
	body := "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}\n\n"
	r := NewStreamReader(io.NopCloser(strings.NewReader(body)))
	for range 2 {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	_, err := r.Next()
	var e *llm.Error
	if !errors.As(err, &e) || e.Message != "boom" {
		t.Fatalf("got %v, want the provider's error", err)
	}
}

func BenchmarkStreamWriter(b *testing.B) {
	b.ReportAllocs()
	w := NewStreamWriter(io.Discard, func() error { return nil }, true, 7)
	ev := llm.Event{Kind: llm.EventText, Text: "hello"}
	for b.Loop() {
		if err := w.Write(ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStreamReader(b *testing.B) {
	b.ReportAllocs()
	line := "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hello\"},\"finish_reason\":null}]}\n\n"
	body := strings.Repeat(line, 1000)
	for b.Loop() {
		r := NewStreamReader(io.NopCloser(strings.NewReader(body)))
		for {
			if _, err := r.Next(); err != nil {
				break
			}
		}
	}
}

// TestStreamReaderBuffered: Buffered tells whether Next would wait for the provider, never
// waiting itself; a chunk with no event is read ahead, not mistaken for one at hand.
func TestStreamReaderBuffered(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	r := NewStreamReader(pr)
	defer r.Close()
	chunkOf := func(text string) string {
		return `data: {"id":"c","choices":[{"index":0,"delta":{"content":"` + text + `"}}]}` + "\n\n"
	}
	write := func(s string) {
		go io.WriteString(pw, s)
	}
	write(chunkOf("a") + chunkOf("b") + chunkOf(""))
	next := func(want llm.EventKind) {
		t.Helper()
		ev, err := r.Next()
		if err != nil || ev.Kind != want {
			t.Fatalf("got %+v, %v; want kind %v", ev, err, want)
		}
	}
	next(llm.EventStart)
	if !r.Buffered() {
		t.Fatal("the text of the first chunk is decoded and waiting")
	}
	next(llm.EventText)
	if !r.Buffered() {
		t.Fatal("a second whole chunk is buffered")
	}
	next(llm.EventText)
	if r.Buffered() {
		t.Fatal("only a chunk without events is left: Next would wait")
	}
	write("data: [DONE]\n\n")
	time.Sleep(10 * time.Millisecond)
	if r.Buffered() {
		t.Fatal("the end of the stream is not an event")
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("got %v, want EOF", err)
	}
}

// TestStreamReaderFreshChunks: a chunk's decoding starts clean, with nothing of the last.
func TestStreamReaderFreshChunks(t *testing.T) {
	in := `data: {"id":"c","choices":[{"index":0,"delta":{"content":"a"}}]}` + "\n\n" +
		`data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n" +
		`data: {"id":"c","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}` + "\n\ndata: [DONE]\n\n"
	r := NewStreamReader(io.NopCloser(strings.NewReader(in)))
	var kinds []llm.EventKind
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, ev.Kind)
	}
	if want := []llm.EventKind{llm.EventStart, llm.EventText, llm.EventFinish, llm.EventUsage}; !reflect.DeepEqual(kinds, want) {
		t.Fatalf("got %v, want %v", kinds, want)
	}
}
