package compress

import (
	"bytes"

	"aya/internal/httpx"
)

// recorder is a ResponseWriter that keeps what a handler sent, and what had reached the
// client at each flush.
type recorder struct {
	h       httpx.Header
	status  int
	body    bytes.Buffer
	flushes []int // body length at each Flush
	trailer httpx.Header
}

func (r *recorder) Header() *httpx.Header { return &r.h }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return r.body.Write(p)
}

func (r *recorder) Flush() error {
	if r.status == 0 {
		r.status = 200
	}
	r.flushes = append(r.flushes, r.body.Len())
	return nil
}

func (r *recorder) SetTrailer(h httpx.Header) { r.trailer = h }

func (r *recorder) reset() {
	r.h = r.h[:0]
	r.status = 0
	r.body.Reset()
	r.flushes = r.flushes[:0]
}
