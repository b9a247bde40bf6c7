package openai

import (
	"encoding/json"
	"reflect"
	"testing"
)

var requestSamples = []string{
	`{"model":"gpt","max_tokens":16,"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"say \"hello\"\n"}]}`,
	`{"model":"gpt","stream":true,"stream_options":{"include_usage":true},"temperature":0.7,"top_p":1,"seed":42,"n":1,"user":"u","stop":["\n"],"max_completion_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}`,
	`{"model":"gpt","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"42"}]}`,
	`{"model":"gpt","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":"auto"}`,
	`{"model":"gpt","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}}`,
	`{"model":"gpt","temperature":1e400,"messages":[]}`,
	`{"model":"gpt","max_tokens":1.5,"messages":[]}`,
	`{"model":"gpt","stream":"yes","messages":[]}`,
	`{"Model":"gpt","messages":null}`,
	`{"model":"gpt","messages":[{"role":"user","content":"a"}],"messages":[{"name":"n"}]}`,
	`{"model":"gpt","tool_choice":null,"stop":null,"seed":null,"temperature":null,"stream_options":null}`,
	`{"model":"gpt","extra":{"deep":[1,2,{"x":null}]},"messages":[]}`,
	`{"model":"gpt",}`,
}

// TestScanRequestMatchesJSON: where the scanner takes a request, it reads what encoding/json
// reads.
func TestScanRequestMatchesJSON(t *testing.T) {
	for _, in := range requestSamples {
		checkRequest(t, []byte(in))
	}
}

func FuzzScanRequest(f *testing.F) {
	for _, in := range requestSamples {
		f.Add([]byte(in))
	}
	f.Fuzz(checkRequest)
}

func checkRequest(t *testing.T, data []byte) {
	var fast chatRequest
	ok := scanRequest(data, &fast)
	var want chatRequest
	err := json.Unmarshal(data, &want)
	if !ok {
		return // encoding/json decodes it
	}
	if err != nil {
		t.Fatalf("%s: the scanner took a request encoding/json refuses: %v", data, err)
	}
	if !reflect.DeepEqual(fast, want) {
		t.Fatalf("%s:\nscanner       %+v\nencoding/json %+v", data, fast, want)
	}
}

func BenchmarkScanRequest(b *testing.B) {
	data := []byte(requestSamples[0])
	b.Run("DecodeRequest", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeRequest(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var cr chatRequest
			if err := json.Unmarshal(data, &cr); err != nil {
				b.Fatal(err)
			}
		}
	})
}
