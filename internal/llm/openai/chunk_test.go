package openai

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"testing"

	"aya/internal/llm"
)

var chunkSamples = []string{
	`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"m","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`,
	`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{"content":"Hel\nlo \"w\" \u00e9"},"logprobs":null,"finish_reason":null}],"usage":null}`,
	`{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
	`{"id":"c","choices":[{"index":1,"delta":{"content":"second choice"},"finish_reason":null}]}`,
	`{"id":"c","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}`,
	`{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]}}]}`,
	`{"error":{"message":"overloaded","type":"server_error"}}`,
	`{"ID":"upper","choices":null}`,
	`{"id":"c","choices":[{"index":0,"Delta":{"content":"folded"}}]}`,
	`{"id":"c","choices":[{"index":1.0,"delta":{"content":"x"}}]}`,
	`{"id":"c","choices":[{"index":0,"delta":{"content":null,"role":null}}]} `,
	`{"id":"c","extra":{"nested":[1,2,{"x":"y"}]},"choices":[]}`,
	`{"id":"c",}`,
	`{"id":"c"} trailing`,
	`[]`,
}

// TestDecodeChunkMatchesJSON: the scanner's result, where it takes a chunk, is encoding/json's.
func TestDecodeChunkMatchesJSON(t *testing.T) {
	for _, in := range chunkSamples {
		checkChunk(t, []byte(in))
	}
}

func FuzzDecodeChunk(f *testing.F) {
	for _, in := range chunkSamples {
		f.Add([]byte(in))
	}
	f.Fuzz(checkChunk)
}

func checkChunk(t *testing.T, data []byte) {
	var fast chunkIn
	ok := scanChunk(data, &fast, true)
	var noIDs chunkIn
	if scanChunk(data, &noIDs, false) != ok {
		t.Fatalf("%s: taken with ids %v, without %v", data, ok, !ok)
	}
	var want chunkIn
	err := json.Unmarshal(data, &want)
	if !ok {
		var got chunkIn
		if gerr := decodeChunk(data, &got, true); (gerr == nil) != (err == nil) || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: fallback got %+v (%v), want %+v (%v)", data, got, gerr, want, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: the scanner took a chunk encoding/json refuses: %v", data, err)
	}
	// The scanner does not read the fields the stream reader ignores.
	want.Object, want.Created, want.SystemFingerprint = "", 0, nil
	for i := range want.Choices {
		want.Choices[i].Logprobs = nil
	}
	if len(fast.Choices) == 0 && len(want.Choices) == 0 {
		fast.Choices, want.Choices = nil, nil
	}
	if !reflect.DeepEqual(fast, want) {
		t.Fatalf("%s:\nscanner       %+v\nencoding/json %+v", data, fast, want)
	}
}

func BenchmarkDecodeChunk(b *testing.B) {
	data := []byte(chunkSamples[1])
	b.Run("scanner", func(b *testing.B) {
		b.ReportAllocs()
		var c chunkIn
		for b.Loop() {
			c.Choices = c.Choices[:0]
			if err := decodeChunk(data, &c, false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var c chunkIn
			if err := json.Unmarshal(data, &c); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestTextChunkMatchesJSON: the hand-written chunks are what encoding/json writes.
func TestTextChunkMatchesJSON(t *testing.T) {
	stop := "stop"
	texts := []string{"", "plain", `quote " and \ back`, "<b>&amp;</b>", "line\nbreak\ttab\x01", "héllo ✓ \u2028", "bad \xff utf8"}
	for _, usage := range []bool{false, true} {
		for _, text := range texts {
			for _, d := range []delta{{Content: &text}, {Role: "assistant", Content: &text}, {}} {
				for _, finish := range []*string{nil, &stop} {
					var got bytes.Buffer
					w := NewStreamWriter(&got, func() error { return nil }, usage, 1732000000)
					w.id, w.model = "chatcmpl-"+text, "m<"+text
					if err := w.textChunk(d.Role, d.Content, finish); err != nil {
						t.Fatal(err)
					}
					c := chunk{ID: w.id, Object: "chat.completion.chunk", Created: w.created, Model: w.model,
						Choices: []chunkChoice{{Delta: d, FinishReason: finish, Logprobs: jsonNull}}}
					if usage {
						c.Usage = jsonNull
					}
					if want := "data: " + string(mustJSON(&c)) + "\n\n"; got.String() != want {
						t.Fatalf("got  %s\nwant %s", got.String(), want)
					}
				}
			}
		}
	}
}

func BenchmarkStreamWriterText(b *testing.B) {
	w := NewStreamWriter(io.Discard, func() error { return nil }, true, 1732000000)
	w.Write(llm.Event{Kind: llm.EventStart, ID: "chatcmpl-abc123", Model: "gpt-4o-mini"})
	ev := llm.Event{Kind: llm.EventText, Text: " hello"}
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Write(ev); err != nil {
			b.Fatal(err)
		}
	}
}
