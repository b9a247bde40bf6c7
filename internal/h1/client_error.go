package h1

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// Kind says what went wrong in an upstream exchange, in the terms a proxy decides on: whether
// another target may be tried, and which status to answer the client with.
//
// A Kind is itself an error, so errors.Is(err, h1.KindTimeout) tests the kind of any error
// the client returned, however deeply it was wrapped.
type Kind uint8

const (
	// KindConnect: dialing or the TLS handshake failed, or the client was closed. Nothing was
	// sent, so the request may be retried on another target whatever its method.
	KindConnect Kind = iota + 1
	// KindTimeout: a connect, write, response-header or body-read timeout passed, or the
	// context's deadline did. A proxy answers 504.
	KindTimeout
	// KindReset: the connection was reset or closed after (part of) the request was sent and
	// before the response was complete. A proxy answers 502; a retry may repeat side effects.
	KindReset
	// KindProtocol: the upstream's response broke HTTP/1.1 framing or syntax. A proxy answers
	// 502, and the connection is never reused.
	KindProtocol
	// KindRequest: the request could not be sent as given — an invalid method, path or header
	// (a bug or a bad rewrite before the client), a body shorter or longer than its
	// ContentLength, or a failure reading the body from the client.
	KindRequest
	// KindCanceled: the context was canceled (typically the client went away).
	KindCanceled
)

var kindNames = [...]string{
	KindConnect:  "connect failed",
	KindTimeout:  "timeout",
	KindReset:    "connection reset",
	KindProtocol: "protocol error",
	KindRequest:  "invalid request",
	KindCanceled: "canceled",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "unknown"
}

// Error makes a Kind usable as an errors.Is target.
func (k Kind) Error() string { return "h1: upstream " + k.String() }

// Error is every error the client returns, from Do and from reading a response body.
type Error struct {
	Kind Kind
	Addr string // the upstream's host:port
	Op   string // what the client was doing: "dial", "write request", "read response header", ...
	Err  error  // the cause
}

func (e *Error) Error() string {
	msg := "upstream " + e.Addr + ": " + e.Op + ": " + e.Err.Error()
	if h := e.hint(); h != "" {
		msg += " (" + h + ")"
	}
	return msg
}

// hint names the likely fix, so an operator reading a log line knows where to look.
func (e *Error) hint() string {
	switch e.Kind {
	case KindConnect:
		if errors.Is(e.Err, ErrClientClosed) {
			return ""
		}
		return "check that the target is up and that its address, port and TLS settings are right"
	case KindTimeout:
		if errors.Is(e.Err, context.DeadlineExceeded) {
			return "the route's timeout passed"
		}
		return "the upstream is slow or stuck; raise the matching timeout if it is slow by design"
	case KindProtocol:
		return "the upstream does not speak strict HTTP/1.1; fix the upstream or its framing"
	}
	return ""
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches a Kind, so callers can write errors.Is(err, h1.KindTimeout).
func (e *Error) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.Kind
}

// Timeout follows the net.Error convention, for callers that classify errors that way. A
// connect timeout is KindConnect (nothing was sent, another target may be tried) and still
// reports true here, so it can be answered with 504 as nginx does.
func (e *Error) Timeout() bool {
	if e.Kind == KindTimeout {
		return true
	}
	var ne net.Error
	return e.Kind == KindConnect && (errors.As(e.Err, &ne) && ne.Timeout() || errors.Is(e.Err, context.DeadlineExceeded))
}

// ErrClientClosed is the cause of the KindConnect error Do returns after Close.
var ErrClientClosed = errors.New("h1: client closed")

// Causes the client itself detects.
var (
	errRespHeadTooLarge = errors.New("response header larger than the limit")
	errTooManyInterim   = errors.New("too many interim (1xx) responses")
	errUnexpected101    = errors.New("101 Switching Protocols to a request that asked for no upgrade")
	errBodyShort        = errors.New("request body shorter than its ContentLength")
	errBodyClosed       = errors.New("read after Close")
	errNoRetryBody      = errors.New("connection closed before the response, and the body sent was too large to send again")
	errIdle408          = errors.New("408 Request Timeout on a reused connection: the upstream was closing it")
	errUploadStopped    = errors.New("request body not sent in full: the upstream answered first")
	errBadALPN          = errors.New("TLS negotiated a protocol other than http/1.1; remove it from NextProtos")
)

// classify turns a low-level I/O error into an Error. ctx decides between a deadline the
// connection hit and a cancellation the context asked for (cancellation closes the I/O by
// setting a past deadline, so both look alike on the wire).
func (c *Client) classify(ctx context.Context, op string, err error, fallback Kind) *Error {
	var ce *Error
	if errors.As(err, &ce) {
		return ce
	}
	if ctx != nil {
		if cerr := ctx.Err(); cerr != nil {
			k := KindCanceled
			if errors.Is(cerr, context.DeadlineExceeded) {
				k = KindTimeout
			}
			return &Error{Kind: k, Addr: c.Addr, Op: op, Err: cerr}
		}
	}
	k := fallback
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		k = KindTimeout
	case errors.Is(err, errMalformedChunked), errors.Is(err, errMalformedResponse),
		errors.Is(err, errRespHeadTooLarge), errors.Is(err, errTooManyInterim), errors.Is(err, errUnexpected101):
		k = KindProtocol
	}
	return &Error{Kind: k, Addr: c.Addr, Op: op, Err: err}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// isStale reports whether err is what a connection the upstream had already closed produces:
// a reset, a broken pipe or a clean EOF — as opposed to a timeout or a malformed response.
func isStale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNABORTED)
}
