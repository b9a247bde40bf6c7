package llm

import (
	"errors"
	"fmt"
	"strings"
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

// Error classes: what a failure says about where else the call may succeed, for the router's
// fallback rules (config llm.models[].fallback_on).
const (
	ClassRateLimit      = "rate_limit"      // 429: this deployment (or key) is busy
	ClassOverloaded     = "overloaded"      // 503, 529: the provider is busy
	ClassServerError    = "server_error"    // other 5xx, transport failures
	ClassTimeout        = "timeout"         // no answer (or no first token) in time
	ClassAuth           = "auth"            // 401/402/403, a key out of quota or credit
	ClassContextLength  = "context_length"  // the prompt does not fit this model's window
	ClassContentPolicy  = "content_policy"  // the provider's safety system refused the prompt
	ClassInvalidRequest = "invalid_request" // the request is wrong everywhere alike: never falls back
)

// FallbackClasses are the classes a model may fall back on, in the order the docs list them.
var FallbackClasses = []string{ClassRateLimit, ClassOverloaded, ClassServerError, ClassTimeout, ClassAuth, ClassContextLength, ClassContentPolicy}

// CodeContentPolicy is OpenAI's code for a prompt its safety system rejected; aya gives it to
// the refusals of providers that answer them without an error code (Gemini's blocked prompts).
const CodeContentPolicy = "content_policy_violation"

// Class sorts the error for the fallback rules. Providers' codes decide first (OpenAI's
// code, Gemini's status), then the wording of their messages, then the HTTP status: an OpenAI
// key out of money answers 429 like a rate limit, but only its body says that waiting will
// not help.
func (e *Error) Class() string {
	switch e.Code {
	case "context_length_exceeded", "string_above_max_length":
		return ClassContextLength
	case CodeContentPolicy, "content_filter", "content_policy", "ResponsibleAIPolicyViolation":
		return ClassContentPolicy
	case "insufficient_quota", "billing_hard_limit_reached", "billing_not_active", "invalid_api_key",
		"account_deactivated", "PERMISSION_DENIED", "UNAUTHENTICATED":
		return ClassAuth
	}
	if c := classOfMessage(e.Message); c != "" {
		return c
	}
	switch {
	case e.Type == ErrTimeout || e.Status == 408 || e.Status == 504:
		return ClassTimeout
	case e.Status == 401 || e.Status == 402 || e.Status == 403 || e.Type == ErrAuthentication || e.Type == ErrPermission:
		return ClassAuth
	case e.Status == 413 || e.Type == ErrRequestTooBig:
		return ClassContextLength
	case e.Status == 429 || e.Type == ErrRateLimit:
		return ClassRateLimit
	case e.Status == 503 || e.Status == 529 || e.Type == ErrOverloaded:
		return ClassOverloaded
	case e.Status >= 500 || e.Type == ErrServer:
		return ClassServerError
	}
	return ClassInvalidRequest
}

// messageClasses are the providers' wordings, lower case, for answers without a telling code:
// Anthropic's 400s carry only a type, Gemini's only INVALID_ARGUMENT.
var messageClasses = []struct{ substr, class string }{
	{"prompt is too long", ClassContextLength},                   // Anthropic
	{"maximum context length", ClassContextLength},               // OpenAI, vLLM
	{"exceeds the maximum number of tokens", ClassContextLength}, // Gemini
	{"exceeds the context window", ClassContextLength},           // llama.cpp
	{"input is too long", ClassContextLength},                    // Bedrock, TGI
	{"content management policy", ClassContentPolicy},            // Azure OpenAI content_filter
	{"safety system", ClassContentPolicy},                        // OpenAI images, moderation
	{"exceeded your current quota", ClassAuth},                   // OpenAI insufficient_quota
	{"credit balance is too low", ClassAuth},                     // Anthropic billing
	{"billing", ClassAuth},                                       // billing_error, billing details
	{"quota exceeded", ClassAuth},
	{"api key not valid", ClassAuth}, // Gemini's 400 API_KEY_INVALID                                // generic quota wording
}

func classOfMessage(msg string) string {
	if msg == "" {
		return ""
	}
	m := strings.ToLower(msg)
	for _, c := range messageClasses {
		if strings.Contains(m, c.substr) {
			return c.class
		}
	}
	return ""
}
