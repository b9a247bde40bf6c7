package anthropic

import (
	"encoding/json"
	"io"
	"reflect"
	"testing"

	"aya/internal/llm"
)

var eventSamples = []string{
	`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel\nlo \"w\" \u00e9"}}`,
	`{"type":"ping"}`,
	`{"type":"message_stop"}`,
	`{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}`,
	`{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":5}}`,
	`{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"usage":{"input_tokens":3,"output_tokens":1}}}`,
	`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
	`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`,
	`{"Type":"ping"}`,
	`{"type":"content_block_delta","index":1.5,"delta":{"text":"x"}}`,
	`{"type":"content_block_delta","delta":{"text":"a"},"delta":{"type":"text_delta"}}`,
	`{"type":"content_block_delta","delta":null}`,
	`{"type":"x","extra":[1,{"b":null}]}`,
	`{"type":"ping",}`,
}

// TestDecodeEventMatchesJSON: where the scanner takes an event, it reads what encoding/json
// reads.
func TestDecodeEventMatchesJSON(t *testing.T) {
	for _, in := range eventSamples {
		checkEvent(t, []byte(in))
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, in := range eventSamples {
		f.Add([]byte(in))
	}
	f.Fuzz(checkEvent)
}

func checkEvent(t *testing.T, data []byte) {
	var fast streamEvent
	ok := scanEvent(data, &fast)
	var want streamEvent
	err := json.Unmarshal(data, &want)
	if !ok {
		return // encoding/json decodes it
	}
	if err != nil {
		t.Fatalf("%s: the scanner took an event encoding/json refuses: %v", data, err)
	}
	if !reflect.DeepEqual(fast, want) {
		t.Fatalf("%s:\nscanner       %+v\nencoding/json %+v", data, fast, want)
	}
}

// TestTextDeltaMatchesJSON: the hand-written text delta is what the map marshals to.
func TestTextDeltaMatchesJSON(t *testing.T) {
	for _, text := range []string{"", "plain", "<b> & \"q\"\n", "héllo \u2028 \xff"} {
		got := string(appendTextDelta(nil, 3, text))
		want := string(mustJSON(map[string]any{"type": "content_block_delta", "index": 3,
			"delta": map[string]string{"type": "text_delta", "text": text}}))
		if got != want {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	}
}

// TestStreamReaderBuffered: Buffered never waits, and tells whether Next would.
func TestStreamReaderBuffered(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	r := NewStreamReader(pr)
	defer r.Close()
	delta := func(text string) string {
		return "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"" + text + "\"}}\n\n"
	}
	go io.WriteString(pw, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"m\",\"usage\":{\"input_tokens\":1}}}\n\n"+
		delta("a")+delta("b")+"event: ping\ndata: {\"type\":\"ping\"}\n\n")
	for _, want := range []llm.EventKind{llm.EventStart, llm.EventText} { // the start, then "a"
		if ev, err := r.Next(); err != nil || ev.Kind != want {
			t.Fatalf("got %+v, %v; want kind %v", ev, err, want)
		}
	}
	if !r.Buffered() {
		t.Fatal(`"b" is buffered`)
	}
	ev, err := r.Next()
	if err != nil || ev.Text != "b" {
		t.Fatalf("got %+v, %v", ev, err)
	}
	if r.Buffered() {
		t.Fatal("only a ping is left: Next would wait")
	}
}

func BenchmarkDecodeEvent(b *testing.B) {
	data := []byte(eventSamples[0])
	b.ReportAllocs()
	for b.Loop() {
		var ev streamEvent
		if err := decodeEvent(data, &ev); err != nil {
			b.Fatal(err)
		}
	}
}
