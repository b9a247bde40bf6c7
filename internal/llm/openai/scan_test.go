package openai

import (
	"encoding/json"
	"reflect"
	"testing"

	"aya/internal/llm"
)

var responseSamples = []string{
	`{"id":"chatcmpl-1","object":"chat.completion","created":1732000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello \"there\"\n","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,"prompt_tokens_details":{"cached_tokens":2,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":1,"audio_tokens":0}},"system_fingerprint":"fp_1"}`,
	`{"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}`,
	`{"id":"c","choices":[{"message":{"content":"x","refusal":"no"},"finish_reason":null}],"usage":null}`,
	`{"id":"c","choices":[],"usage":{"prompt_tokens":null,"prompt_tokens_details":null}}`,
	`{"id":"c","choices":null,"extra":[{"a":1.5e3}]}`,
	`{"Choices":[]}`,
	`{"id":"c","choices":[{"index":0,"message":{"Content":"folded"}}]}`,
	`{"id":"c","usage":{"prompt_tokens":1},"usage":{"completion_tokens":2}}`,
	`{"id":"c","choices":[{"index":0,"message":{"content":"a"}}],"choices":[{"finish_reason":"stop"}]}`,
	`{"id":1}`,
	`{"id":"c"`,
}

// TestDecodeResponseMatchesJSON: where the scanner takes an answer, it reads what
// encoding/json reads.
func TestDecodeResponseMatchesJSON(t *testing.T) {
	for _, in := range responseSamples {
		checkResponse(t, []byte(in))
	}
}

func FuzzDecodeResponse(f *testing.F) {
	for _, in := range responseSamples {
		f.Add([]byte(in))
	}
	f.Fuzz(checkResponse)
}

func checkResponse(t *testing.T, data []byte) {
	var fast chatResponse
	ok := scanResponse(data, &fast)
	var want chatResponse
	err := json.Unmarshal(data, &want)
	if !ok {
		return // encoding/json decodes it
	}
	if err != nil {
		t.Fatalf("%s: the scanner took an answer encoding/json refuses: %v", data, err)
	}
	// The scanner does not keep the fields DecodeResponse ignores.
	want.Created, want.SystemFingerprint = 0, nil
	for i := range want.Choices {
		want.Choices[i].Logprobs = nil
	}
	if !reflect.DeepEqual(fast, want) {
		t.Fatalf("%s:\nscanner       %+v\nencoding/json %+v", data, fast, want)
	}
}

func BenchmarkDecodeResponse(b *testing.B) {
	data := []byte(responseSamples[0])
	b.Run("DecodeResponse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeResponse(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var cr chatResponse
			if err := json.Unmarshal(data, &cr); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestEncodeTextResponseMatchesJSON: the hand-written answer is what encoding/json writes.
func TestEncodeTextResponseMatchesJSON(t *testing.T) {
	for _, text := range []string{"", "plain", "<tag> & \"quote\"\n", "héllo \u2028 \xff"} {
		for _, finish := range []string{"", "length"} {
			r := &llm.Response{ID: "chatcmpl-" + text, Model: "m&" + text, Text: text, Finish: finish,
				Usage: llm.Usage{Input: 12, Output: 5, CachedInput: 2, Reasoning: 1}}
			if got, want := string(encodeTextResponse(r, 1732000000)), string(encodeResponseJSON(r, 1732000000)); got != want {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
		}
	}
}

func BenchmarkEncodeResponse(b *testing.B) {
	r := &llm.Response{ID: "chatcmpl-abc", Model: "gpt-4o-mini", Text: "Hello there, benchmark. How are you today?", Finish: "stop",
		Usage: llm.Usage{Input: 20, Output: 16}}
	b.ReportAllocs()
	for b.Loop() {
		EncodeResponse(r, 1732000000)
	}
}
