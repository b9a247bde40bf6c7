package proxy

import (
	"context"
	"errors"
	"io"
	"net"

	"aya/internal/h1"
	"aya/internal/upstream"
)

// replayBody records the client's body as tries read it, up to max bytes, so that a retry
// can send it again: a retry reads the record first, then the rest of the client's body.
// Once more than max bytes were read the record is dropped (over) and the request is not
// retried after its body started to go out.
type replayBody struct {
	src    io.Reader
	rec    []byte // kept across requests: its capacity is the pooled exchange's
	max    int64
	pos    int
	eof    bool
	over   bool
	active bool
}

func (b *replayBody) start(src io.Reader, max int64) {
	b.src, b.max, b.active = src, max, true
	b.rec, b.pos, b.eof, b.over = b.rec[:0], 0, false, false
}

func (b *replayBody) Read(p []byte) (int, error) {
	if !b.over && b.pos < len(b.rec) {
		n := copy(p, b.rec[b.pos:])
		b.pos += n
		return n, nil
	}
	if b.eof {
		return 0, io.EOF
	}
	n, err := b.src.Read(p)
	if n > 0 && !b.over {
		if int64(len(b.rec)+n) > b.max {
			b.over = true
		} else {
			b.rec = append(b.rec, p[:n]...)
			b.pos = len(b.rec)
		}
	}
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

// rewind starts the record over for the next try.
func (b *replayBody) rewind() { b.pos = 0 }

func (b *replayBody) reset() {
	if cap(b.rec) > 1<<20 {
		b.rec = nil // do not pin a large record in the pool
	}
	*b = replayBody{rec: b.rec[:0]}
}

// classifyTry says why a try failed, as a retry condition and as an outcome for outlier
// detection. inTime is false when the per-try timeout cut the try.
func classifyTry(err error, x *exchange, inTime bool) (upstream.Cond, upstream.Outcome) {
	switch {
	case x.body.err != nil || errors.Is(err, ErrBodyTooLarge):
		return upstream.CondNone, upstream.Canceled
	case !inTime:
		return upstream.CondTimeout, upstream.GatewayFailure
	case errors.Is(err, context.DeadlineExceeded):
		return upstream.CondNone, upstream.GatewayFailure // the route's time is up
	case errors.Is(err, context.Canceled):
		return upstream.CondNone, upstream.Canceled
	}
	var he *h1.Error
	if errors.As(err, &he) {
		switch he.Kind {
		case h1.KindConnect:
			return upstream.CondConnect, upstream.ConnectFailure
		case h1.KindTimeout:
			return upstream.CondTimeout, upstream.GatewayFailure
		case h1.KindReset, h1.KindProtocol:
			return upstream.CondReset, upstream.GatewayFailure
		}
		return upstream.CondNone, upstream.Canceled // KindRequest, KindCanceled: our side
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return upstream.CondConnect, upstream.ConnectFailure
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return upstream.CondTimeout, upstream.GatewayFailure
	}
	return upstream.CondReset, upstream.GatewayFailure
}
