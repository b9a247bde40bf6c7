package llmdemo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"aya/internal/demo"
)

// Server is one local provider. It is an http.Handler; Start serves it on a loopback address.
type Server struct {
	kind Kind
	opt  Options

	mu       sync.Mutex
	rng      *rand.Rand         // error-rate draws
	injected []injection        // statuses forced on the next requests, in order
	broken   []injection        // statuses that break the next streams after their first token
	wins     map[string]*window // by API key with LimitPerKey, else one under ""
	served   map[string]int     // admitted requests by API key

	requests atomic.Int64
	running  atomic.Int64
	waiting  atomic.Int64
	kvTokens atomic.Int64  // prompt + completion tokens of the running requests
	slots    chan struct{} // MaxRunning; nil when unlimited
	ids      atomic.Uint64
}

type injection struct {
	status int
	left   int
}

// New returns a provider speaking kind's API.
func New(kind Kind, o Options) *Server {
	o = o.withDefaults(kind)
	s := &Server{kind: kind, opt: o, rng: rand.New(rand.NewPCG(uint64(o.Seed), 0x9e3779b97f4a7c15))}
	if kind == OpenAICompatible && o.MaxRunning > 0 {
		s.slots = make(chan struct{}, o.MaxRunning)
	}
	return s
}

// Start serves s over HTTP/1.1 on addr ("127.0.0.1:0" picks a free port) until ctx ends.
func (s *Server) Start(ctx context.Context, addr string) (net.Addr, error) {
	a, err := demo.Start(ctx, addr, s)
	if err != nil {
		return nil, fmt.Errorf("llm demo %s: %w", s.opt.Name, err)
	}
	return a, nil
}

// Start builds a provider of kind and serves it on addr until ctx ends.
func Start(ctx context.Context, addr string, kind Kind, o Options) (*Server, net.Addr, error) {
	s := New(kind, o)
	a, err := s.Start(ctx, addr)
	return s, a, err
}

// Kind is the API s speaks.
func (s *Server) Kind() Kind { return s.kind }

// Models are the model ids s serves.
func (s *Server) Models() []string { return slices.Clone(s.opt.Models) }

// InjectStatus makes the next n API requests (chat, messages, embeddings, generate) fail with
// status in the API's own error shape, before any other check; 429s carry retry-after: 1.
// Calls queue: a second injection applies after the first is used up.
func (s *Server) InjectStatus(status, n int) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	s.injected = append(s.injected, injection{status: status, left: n})
	s.mu.Unlock()
}

// InjectStreamFailure makes the next n streamed answers fail after their first token with an
// error event in the API's shape carrying status (OpenAI `data: {"error":…}` without [DONE],
// Anthropic `event: error`, Gemini `data: {"error":…}`), as providers do when they fail
// mid-stream. The HTTP status stays 200, since the head was already sent.
func (s *Server) InjectStreamFailure(status, n int) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	s.broken = append(s.broken, injection{status: status, left: n})
	s.mu.Unlock()
}

// streamFailure consumes one injected mid-stream failure; 0 means the stream runs to its end.
func (s *Server) streamFailure() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.broken) == 0 {
		return 0
	}
	inj := &s.broken[0]
	st := inj.status
	if inj.left--; inj.left <= 0 {
		s.broken = s.broken[1:]
	}
	return st
}

// Requests counts the generation requests received (chat, messages, embeddings, generate),
// failed ones included; model listings and metrics scrapes are not counted.
func (s *Server) Requests() int64 { return s.requests.Load() }

// InFlight counts the requests being answered now (running plus waiting).
func (s *Server) InFlight() int64 { return s.running.Load() + s.waiting.Load() }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch s.kind {
	case Anthropic:
		s.serveAnthropic(w, r)
	case Gemini:
		s.serveGemini(w, r)
	case OpenAICompatible:
		if r.URL.Path == "/metrics" {
			s.serveMetrics(w, r)
			return
		}
		s.serveOpenAI(w, r)
	default:
		s.serveOpenAI(w, r)
	}
}

func (s *Server) serves(model string) bool { return slices.Contains(s.opt.Models, model) }

func (s *Server) keyOK(key string) bool {
	return len(s.opt.APIKeys) == 0 || (key != "" && slices.Contains(s.opt.APIKeys, key))
}

func (s *Server) newID(prefix string) string {
	return fmt.Sprintf("%s%s%012d", prefix, s.opt.Name, s.ids.Add(1))
}

// refusal is why a request is answered with an error before any generation.
type refusal struct {
	status     int
	retryAfter int // seconds; 0: none
	reason     string
}

// injectedStatus consumes one injected failure, or draws one from the error rate.
func (s *Server) injectedStatus() *refusal {
	s.requests.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.injected) > 0 {
		inj := &s.injected[0]
		st := inj.status
		if inj.left--; inj.left <= 0 {
			s.injected = s.injected[1:]
		}
		ra := 0
		if st == http.StatusTooManyRequests {
			ra = 1
		}
		return &refusal{status: st, retryAfter: ra, reason: "injected"}
	}
	if s.opt.ErrorRate > 0 && s.rng.Float64() < s.opt.ErrorRate {
		return &refusal{status: http.StatusInternalServerError, reason: "error rate"}
	}
	return nil
}

// begin marks one request in progress for the load metrics, waiting for a MaxRunning slot
// first; the returned func ends it.
func (s *Server) begin(ctx context.Context, key string, tokens int) (func(extra int), error) {
	if s.slots != nil {
		s.waiting.Add(1)
		select {
		case s.slots <- struct{}{}:
			s.waiting.Add(-1)
		case <-ctx.Done():
			s.waiting.Add(-1)
			return nil, ctx.Err()
		}
	}
	s.running.Add(1)
	s.kvTokens.Add(int64(tokens))
	added := int64(tokens)
	return func(extra int) {
		s.kvTokens.Add(-added)
		s.running.Add(-1)
		if s.slots != nil {
			<-s.slots
		}
		s.settle(key, extra)
	}, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
