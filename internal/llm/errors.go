package llm

import (
	"errors"
	"fmt"
	"time"
)

// Error types: the classes of failure both APIs know, each codec spelling them its own way.
const (
	ErrInvalidRequest = "invalid_request"
	ErrAuthentication = "authentication"
	ErrPermission     = "permission"
	ErrNotFound       = "not_found"
	ErrRequestTooBig  = "request_too_large"
	ErrRateLimit      = "rate_limit"
	ErrServer         = "api_error"
	ErrOverloaded     = "overloaded"
	ErrTimeout        = "timeout"
)

// Error is a failure of a chat call, from aya or from the provider, with the HTTP status the
// client should see.
type Error struct {
	Status  int
	Type    string // one of the Err* constants
	Message string
	Param   string // the request field at fault, when known
	Code    string // a machine-readable code (OpenAI's code), when known
	// RetryAfter is how long the provider asked callers to wait (429, 503, 529).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Type, e.Message)
}

// Errorf makes an Error with a formatted message.
func Errorf(status int, typ, format string, args ...any) *Error {
	return &Error{Status: status, Type: typ, Message: fmt.Sprintf(format, args...)}
}

// AsError returns err as an *Error: itself when it is one, else a 502 api_error (a transport
// failure talking to the provider) or a 504 timeout.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return &Error{Status: 504, Type: ErrTimeout, Message: "the provider did not answer in time: " + err.Error()}
	}
	return &Error{Status: 502, Type: ErrServer, Message: "could not reach the provider: " + err.Error()}
}

// TypeForStatus is the error type a provider's HTTP status means when its body does not say.
func TypeForStatus(status int) string {
	switch {
	case status == 400 || status == 422:
		return ErrInvalidRequest
	case status == 401:
		return ErrAuthentication
	case status == 402 || status == 403:
		return ErrPermission
	case status == 404:
		return ErrNotFound
	case status == 413:
		return ErrRequestTooBig
	case status == 429:
		return ErrRateLimit
	case status == 529 || status == 503:
		return ErrOverloaded
	case status == 408 || status == 504:
		return ErrTimeout
	}
	return ErrServer
}

// Retryable reports whether another deployment may succeed where this one failed: rate limits,
// overload, timeouts and server errors. Client errors (a bad request, a bad key) would fail
// everywhere alike, except auth and billing failures, which are the provider key's.
func (e *Error) Retryable() bool {
	switch e.Type {
	case ErrRateLimit, ErrOverloaded, ErrTimeout, ErrServer, ErrAuthentication, ErrPermission:
		return true
	}
	return e.Status >= 500
}
