package cache

import (
	"strings"

	"aya/internal/httpx"
)

// captureMode is what a capture does with the answer coming from upstream.
type captureMode uint8

const (
	// passing streams the answer to the client, keeping a copy while it may be stored.
	passing captureMode = iota
	// revalidated: the upstream said 304 to the cache's conditional request; the stale
	// entry, refreshed, answers the client.
	revalidated
	// failedOver: the upstream failed and the stale entry stands in (stale-if-error).
	failedOver
)

// capture is the response writer the next handler gets on a miss or a revalidation. It
// decides at WriteHeader whether the answer can be stored; bodies stream to the client as
// they come, and the copy is dropped once it passes MaxEntrySize.
type capture struct {
	w     httpx.ResponseWriter
	c     *Cache
	r     *httpx.Request
	stale *entry // the entry being revalidated; nil on a plain miss
	n0    int    // header fields that policies before the cache set (not the upstream's)

	wrote   bool
	mode    captureMode
	status  int
	keep    bool   // still a candidate for the store
	broken  bool   // a write to the client failed: the copy may be incomplete
	e       *entry // the entry being built (header, freshness)
	buf     []byte
	want    int64         // the declared Content-Length, -1 when unknown
	updated []httpx.Field // the 304's fields, for refreshing the stale entry
}

func (cw *capture) Header() *httpx.Header { return cw.w.Header() }

func (cw *capture) WriteHeader(status int) {
	if cw.wrote {
		return
	}
	if status < 200 {
		cw.w.WriteHeader(status) // interim answers pass through
		return
	}
	cw.wrote, cw.status = true, status
	c := cw.c
	h := cw.w.Header()
	now := c.now()
	if cw.stale != nil {
		switch {
		case status == 304:
			cw.mode = revalidated
			cw.updated = cloneFields((*h)[cw.n0:])
			*h = (*h)[:cw.n0]
			return
		case status >= 500 && cw.stale.servableOnError(now):
			cw.mode = failedOver
			*h = (*h)[:cw.n0]
			return
		}
	}
	cw.e, cw.want = c.candidate(cw.r, status, (*h)[cw.n0:], now)
	cw.keep = cw.e != nil
	if cw.keep && cw.want > 0 {
		cw.buf = make([]byte, 0, cw.want)
	}
	if c.o.TagsHeader != "" {
		h.Del(c.o.TagsHeader)
	}
	h.Set("X-Cache", "MISS")
	cw.w.WriteHeader(status)
}

func (cw *capture) Write(p []byte) (int, error) {
	if !cw.wrote {
		cw.WriteHeader(200)
	}
	if cw.mode != passing {
		return len(p), nil
	}
	if cw.keep {
		if int64(len(cw.buf)+len(p)) > cw.c.o.MaxEntrySize {
			cw.keep, cw.buf = false, nil
		} else {
			cw.buf = append(cw.buf, p...)
		}
	}
	n, err := cw.w.Write(p)
	if err != nil {
		cw.broken = true
	}
	return n, err
}

func (cw *capture) Flush() error {
	if cw.mode != passing {
		return nil
	}
	return cw.w.Flush()
}

// SetTrailer passes trailers on; a response with trailers is not stored (the cache would
// replay it without them).
func (cw *capture) SetTrailer(h httpx.Header) {
	cw.keep = false
	if tw, ok := cw.w.(httpx.TrailerWriter); ok {
		tw.SetTrailer(h)
	}
}

// complete reports whether the copy holds the whole body.
func (cw *capture) complete() bool {
	return cw.keep && !cw.broken && (cw.want < 0 || int64(len(cw.buf)) == cw.want)
}

func cloneFields(fs []httpx.Field) []httpx.Field {
	out := make([]httpx.Field, len(fs))
	for i, f := range fs {
		out[i] = httpx.Field{Name: strings.Clone(f.Name), Value: strings.Clone(f.Value)}
	}
	return out
}
