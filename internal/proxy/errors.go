package proxy

import (
	"context"
	"errors"
	"net"
	"strconv"
	"time"

	"aya/internal/httpx"
)

// classify maps an exchange error to the status aya answers with: 504 when a deadline passed
// (the route's total timeout or an upstream phase timeout), 502 for everything else (connect
// refused, reset, malformed response).
func classify(err error, ctx context.Context) (int, string) {
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded {
		return 504, "upstream timed out"
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return 504, "upstream timed out"
	}
	if errors.Is(err, context.Canceled) {
		// The client went away; the status is for the log only.
		return 499, "client closed the request"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return 502, "upstream connect failed"
	}
	return 502, "upstream exchange failed"
}

// ErrorNoter learns why aya answered a request with an error of its own (for the access log).
// WriteError finds it in the request's Local state.
type ErrorNoter interface {
	NoteError(msg string)
}

// WriteError answers with aya's JSON error shape: {"error":{"code","message","request_id"}}.
// A 503 says Retry-After: 1.
func WriteError(w httpx.ResponseWriter, r *httpx.Request, status int, msg string) {
	writeError(w, r, status, msg, time.Second)
}

// writeError is WriteError with the Retry-After a 503 carries (rounded up to seconds).
func writeError(w httpx.ResponseWriter, r *httpx.Request, status int, msg string, retryAfter time.Duration) {
	if r != nil {
		if n, ok := r.Local.(ErrorNoter); ok {
			n.NoteError(msg)
		}
	}
	if status == 499 {
		return
	}
	body := make([]byte, 0, 128)
	body = append(body, `{"error":{"code":`...)
	body = strconv.AppendInt(body, int64(status), 10)
	body = append(body, `,"message":`...)
	body = strconv.AppendQuote(body, msg)
	if r != nil && r.ID != "" {
		body = append(body, `,"request_id":`...)
		body = strconv.AppendQuote(body, r.ID)
	}
	body = append(body, "}}\n"...)
	h := w.Header()
	h.Reset()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r != nil && r.ID != "" {
		h.Set("X-Request-ID", r.ID)
	}
	if status == 503 {
		h.Set("Retry-After", strconv.FormatInt(max(int64((retryAfter+time.Second-1)/time.Second), 1), 10))
	}
	w.WriteHeader(status)
	w.Write(body)
}
