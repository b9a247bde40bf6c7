package llm

import (
	"io"
	"strings"
	"testing"
)

func TestSSEReader(t *testing.T) {
	body := ": keep-alive\n\nevent: ping\ndata: {\"type\":\"ping\"}\n\ndata: a\r\ndata: b\r\n\r\ndata: " + strings.Repeat("x", 40000) + "\n\ndata: last"
	r := NewSSEReader(strings.NewReader(body))
	want := []struct{ event, data string }{
		{"ping", `{"type":"ping"}`},
		{"", "a\nb"},
		{"", strings.Repeat("x", 40000)},
		{"", "last"},
	}
	for _, w := range want {
		ev, data, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if string(ev) != w.event || string(data) != w.data {
			t.Fatalf("got %q %.40q, want %q %.40q", ev, data, w.event, w.data)
		}
	}
	if _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("got %v, want EOF", err)
	}
}

func TestErrorClasses(t *testing.T) {
	tests := []struct {
		status    int
		typ       string
		retryable bool
	}{
		{400, ErrInvalidRequest, false}, {401, ErrAuthentication, true}, {404, ErrNotFound, false},
		{429, ErrRateLimit, true}, {500, ErrServer, true}, {529, ErrOverloaded, true}, {504, ErrTimeout, true},
	}
	for _, tt := range tests {
		e := &Error{Status: tt.status, Type: TypeForStatus(tt.status)}
		if e.Type != tt.typ || e.Retryable() != tt.retryable {
			t.Errorf("%d: got %s retryable=%v", tt.status, e.Type, e.Retryable())
		}
	}
}

func BenchmarkSSEReader(b *testing.B) {
	b.ReportAllocs()
	body := strings.Repeat("event: content_block_delta\ndata: {\"type\":\"content_block_delta\"}\n\n", 1000)
	for b.Loop() {
		r := NewSSEReader(strings.NewReader(body))
		for {
			if _, _, err := r.Next(); err != nil {
				break
			}
		}
	}
}

func TestSSEReaderBuffered(t *testing.T) {
	tests := []struct {
		body string
		want bool
	}{
		{"data: a\n\ndata: b\n\n", true},
		{"data: a\n\ndata: b\r\n\r\n", true},
		{"data: a\n\ndata: b\n", false}, // the second event's blank line has not arrived
		{"data: a\n\n", false},
	}
	for _, tt := range tests {
		r := NewSSEReader(strings.NewReader(tt.body))
		if _, _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
		if got := r.Buffered(); got != tt.want {
			t.Errorf("%q: Buffered() = %v, want %v", tt.body, got, tt.want)
		}
	}
}
