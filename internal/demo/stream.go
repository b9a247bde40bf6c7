package demo

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// sse sends the first event at once and then one per interval, flushing each, so a test can
// tell a proxy that streams from one that buffers.
func (s *echoServer) sse(w http.ResponseWriter, r *http.Request, q url.Values) error {
	n, err := intParam(q, "n", 5, 0, maxEvents)
	if err != nil {
		return err
	}
	interval, err := durationParam(q, "interval", 100*time.Millisecond)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	for i := range n {
		if i > 0 && sleep(r, interval) != nil {
			return nil
		}
		if _, err := fmt.Fprintf(w, "data: {\"i\":%d}\n\n", i); err != nil {
			return nil
		}
		if rc.Flush() != nil {
			return nil
		}
	}
	return nil
}

// chunked sends n*size pattern bytes in n flushed writes without Content-Length, which
// net/http frames as one chunk per flush on HTTP/1.1.
func (s *echoServer) chunked(w http.ResponseWriter, r *http.Request, q url.Values) error {
	n, err := intParam(q, "n", 3, 0, maxEvents)
	if err != nil {
		return err
	}
	interval, err := durationParam(q, "interval", 100*time.Millisecond)
	if err != nil {
		return err
	}
	size, err := intParam(q, "size", 10, 1, maxChunk)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	src := Pattern(n * size)
	buf := make([]byte, size)
	for i := range n {
		if i > 0 && sleep(r, interval) != nil {
			return nil
		}
		if _, err := io.ReadFull(src, buf); err != nil {
			return nil
		}
		if _, err := w.Write(buf); err != nil {
			return nil
		}
		if rc.Flush() != nil {
			return nil
		}
	}
	return nil
}
