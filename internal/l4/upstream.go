package l4

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"aya/internal/httpx"
	"aya/internal/upstream"
)

// Pool is what the proxies need of an upstream pool; *upstream.Pool is one. Every
// connection or flow is one "request" to the pool: Admit and Release bracket it, Begin,
// Answered and End bracket each target tried.
type Pool interface {
	Pick(r *httpx.Request) *upstream.Target
	Repick(r *httpx.Request, tried []*upstream.Target) *upstream.Target
	Admit() (retryAfter time.Duration, ok bool)
	Release()
	Begin(t *upstream.Target)
	Answered(t *upstream.Target, o upstream.Outcome, latency time.Duration)
	End(t *upstream.Target, d time.Duration, failed bool)
}

// Upstream is one upstream as the proxies use it.
type Upstream struct {
	Name           string
	Pool           Pool
	ConnectTimeout time.Duration // each connect attempt; 0: 5s
	// Tries is how many targets a connection tries before it gives up, the first included
	// (at least 1). Only connect failures move on: once connected, bytes may have gone.
	Tries int
}

// Resolver finds the upstream a name means now. The gateway answers from the running
// snapshot, so new connections follow a reload.
type Resolver interface {
	Upstream(name string) (Upstream, bool)
}

// ResolverFunc adapts a function to Resolver.
type ResolverFunc func(name string) (Upstream, bool)

// Upstream calls f.
func (f ResolverFunc) Upstream(name string) (Upstream, bool) { return f(name) }

// errNoTarget: the pool has no usable target.
var errNoTarget = errors.New("no usable target")

// balanceKey is what the pool's balancer sees of a connection: only the client's address,
// which is what ip_hash, consistent_hash and maglev hash.
func balanceKey(client netip.AddrPort) *httpx.Request {
	return &httpx.Request{RemoteAddr: client, ClientIP: client.Addr().Unmap()}
}

// dialFunc connects to one target address.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// connect dials a target of u for client, moving to another target after a failed connect,
// up to u.Tries targets. On success the pool has seen Begin for the returned target, and
// Answered too when answer is set (a TCP connect is the target's answer; a UDP one proves
// nothing); the caller owes it End, and Answered when answer is not set. Failed targets
// are reported (Answered and End) here.
func connect(ctx context.Context, u Upstream, client netip.AddrPort, network string, dial dialFunc, answer bool, onFail func(t *upstream.Target, err error)) (net.Conn, *upstream.Target, error) {
	key := balanceKey(client)
	tries := max(u.Tries, 1)
	timeout := u.ConnectTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	var tried []*upstream.Target
	var lastErr error
	t := u.Pool.Pick(key)
	for t != nil && len(tried) < tries {
		start := time.Now()
		u.Pool.Begin(t)
		dctx, cancel := context.WithTimeout(ctx, timeout)
		c, err := dial(dctx, network, t.Addr)
		cancel()
		took := time.Since(start)
		if err == nil {
			if answer {
				u.Pool.Answered(t, upstream.OK, took)
			}
			return c, t, nil
		}
		outcome := upstream.ConnectFailure
		if ctx.Err() != nil {
			outcome = upstream.Canceled // aya is stopping: says nothing of the target
		}
		u.Pool.Answered(t, outcome, took)
		u.Pool.End(t, took, outcome != upstream.Canceled)
		if onFail != nil {
			onFail(t, err)
		}
		lastErr = fmt.Errorf("target %s: %w", t.Name, err)
		if ctx.Err() != nil {
			break
		}
		tried = append(tried, t)
		t = u.Pool.Repick(key, tried)
		if containsTarget(tried, t) {
			break // every usable target failed already
		}
	}
	if lastErr == nil {
		lastErr = errNoTarget
	}
	return nil, nil, fmt.Errorf("upstream %q: %w", u.Name, lastErr)
}

func containsTarget(ts []*upstream.Target, t *upstream.Target) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}
