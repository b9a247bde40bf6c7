package demo

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestSSE(t *testing.T) {
	base := startEcho(t, EchoOptions{Name: "s"})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/sse?n=3&interval=200ms", nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" || resp.Header.Get(BackendHeader) != "s" {
		t.Fatalf("Content-Type %q backend %q", ct, resp.Header.Get(BackendHeader))
	}
	sc := bufio.NewScanner(resp.Body)
	var arrivals []time.Duration
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		if want := `data: {"i":` + strconv.Itoa(len(arrivals)) + `}`; line != want {
			t.Fatalf("line %q, want %q", line, want)
		}
		arrivals = append(arrivals, time.Since(start))
	}
	if len(arrivals) != 3 {
		t.Fatalf("%d events", len(arrivals))
	}
	// Each event must arrive on its own, about one interval apart, not all at the end. The
	// bound is loose because the test machine may be busy.
	for i := 1; i < len(arrivals); i++ {
		if gap := arrivals[i] - arrivals[i-1]; gap < 100*time.Millisecond {
			t.Errorf("event %d came %s after the previous one: not flushed separately (arrivals %v)", i, gap, arrivals)
		}
	}
}

func TestChunked(t *testing.T) {
	base := startEcho(t, EchoOptions{Name: "c"})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/chunked?n=3&interval=200ms&size=10", nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.ContentLength != -1 || len(resp.TransferEncoding) != 1 {
		t.Fatalf("want chunked framing, got Content-Length %d TE %v", resp.ContentLength, resp.TransferEncoding)
	}
	first := make([]byte, 10)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	firstAt := time.Since(start)
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	want, err := io.ReadAll(Pattern(30))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(first) + string(rest); got != string(want) {
		t.Errorf("body %q, want %q", got, want)
	}
	// The first chunk must be flushed on its own, well before the last one is written.
	if took := time.Since(start) - firstAt; took < 250*time.Millisecond {
		t.Errorf("rest came %s after the first chunk, want about two intervals", took)
	}
}
