package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"aya/internal/config"
	"aya/internal/httpx"
)

// h3Server serves HTTP/3 for one TLS listener (http3: true): a UDP socket on the listener's
// port number, a QUIC transport over it, and quic-go's HTTP/3 server, whose requests reach the
// same dispatcher as h1 and h2 through the net/http adapter. The listener's tls.Config is
// shared, so SNI selection, renewed certificate files and client certificates behave as on TCP.
//
// aya owns the socket (not quic-go) so that closing it is explicit: a reload that replaces the
// listener must free the port before the new listener binds it.
type h3Server struct {
	srv  *http3.Server
	tls  *tls.Config
	quic *quic.Config
	log  *slog.Logger

	pc    net.PacketConn
	tr    *quic.Transport
	ln    *quic.Listener
	limit *connLimiter // the listener's max_conns and max_conns_per_ip, shared with TCP; nil: none

	draining atomic.Bool // shutdown owns the teardown; close leaves it alone
	release  sync.Once
}

// desiredUDPBuffer is the receive buffer quic-go asks the kernel for (7 MiB); below it, bursts
// of datagrams can be dropped before aya reads them.
const desiredUDPBuffer = 7 << 20

// quietBufferWarning is quic-go's switch for its own warning about a small UDP buffer, which it
// prints through the standard logger (so as an info line, in aya). aya reports it at debug
// instead: it is a tuning hint (net.core.rmem_max), not a failure.
const quietBufferWarning = "QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING"

func newH3Server(cfg *config.Listener, tlsConf *tls.Config, h http.Handler, log *slog.Logger) *h3Server {
	t, lim := cfg.Timeouts, cfg.Limits
	s := &h3Server{
		tls: http3.ConfigureTLSConfig(tlsConf),
		// No 0-RTT: early data can be replayed by an attacker, and aya cannot tell which
		// routes are safe to replay.
		quic: &quic.Config{
			HandshakeIdleTimeout: t.ReadHeader.D(),
			MaxIdleTimeout:       t.Idle.D(),
			MaxIncomingStreams:   int64(cfg.H2.MaxConcurrentStreams),
		},
		log: log,
	}
	s.srv = &http3.Server{
		Handler:        h,
		IdleTimeout:    t.Idle.D(),
		MaxHeaderBytes: int(lim.MaxHeaderBytes),
		Logger:         log,
	}
	return s
}

// listen binds UDP host:port and starts QUIC on it. port is the TCP listener's, so one port
// number serves both (and "127.0.0.1:0" gets the port the kernel chose for TCP).
func (s *h3Server) listen(ctx context.Context, host string, port int) error {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp", addr)
	if err != nil {
		return fmt.Errorf("http3: bind UDP %s (the TCP port number, for QUIC): %w", addr, err)
	}
	if _, set := os.LookupEnv(quietBufferWarning); !set {
		os.Setenv(quietBufferWarning, "true")
	}
	s.tr = &quic.Transport{Conn: pc}
	ln, err := s.tr.Listen(s.tls, s.quic)
	if err != nil {
		s.tr.Close()
		pc.Close()
		return fmt.Errorf("http3: listen on UDP %s: %w", addr, err)
	}
	s.pc, s.ln = pc, ln
	if size, ok := udpReceiveBuffer(pc); ok && size < desiredUDPBuffer {
		s.log.Debug("UDP receive buffer is below what QUIC wants; raise net.core.rmem_max for high HTTP/3 throughput",
			"buffer_kib", size>>10, "wanted_kib", desiredUDPBuffer>>10)
	}
	return nil
}

// addr is the bound UDP address.
func (s *h3Server) addr() net.Addr { return s.pc.LocalAddr() }

// serve accepts QUIC connections until shutdown or close.
func (s *h3Server) serve() {
	var ln http3.QUICListener = s.ln
	if s.limit != nil {
		ln = &limitedQUIC{Listener: s.ln, limit: s.limit}
	}
	if err := s.srv.ServeListener(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, quic.ErrServerClosed) {
		s.log.Warn("HTTP/3 stopped serving", "error", err)
	}
}

// shutdown drains: no new QUIC connections, GOAWAY on the open ones, and their requests finish
// until ctx ends; then the socket is closed.
func (s *h3Server) shutdown(ctx context.Context) error {
	s.draining.Store(true)
	s.ln.Close()
	err := s.srv.Shutdown(ctx)
	s.free()
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// close ends HTTP/3 at once, for a reload that replaces the listener: the port must be free for
// the new listener's socket before close returns. Clients get CONNECTION_CLOSE and retry on a
// new connection (or over TCP). A shutdown already in progress is left to finish.
func (s *h3Server) close() {
	if s.draining.Load() {
		return
	}
	done := make(chan struct{})
	go func() {
		s.srv.Close()
		close(done)
	}()
	// Close returns once every handler has; handlers see their context canceled, so this is
	// quick, but a stuck one must not hold the reload.
	t := time.NewTimer(time.Second)
	select {
	case <-done:
	case <-t.C:
	}
	t.Stop()
	s.free()
}

// free closes the transport and the socket, once.
func (s *h3Server) free() {
	s.release.Do(func() {
		s.tr.Close()
		s.pc.Close()
	})
}

// limitedQUIC applies the listener's connection caps to QUIC connections too, so HTTP/3 is no
// way around them. A connection over a cap is closed at once with H3_EXCESSIVE_LOAD.
type limitedQUIC struct {
	*quic.Listener
	limit *connLimiter
}

// h3ExcessiveLoad is the HTTP/3 error code for a peer generating excessive load (RFC 9114 §8.1).
const h3ExcessiveLoad = 0x0107

func (l *limitedQUIC) Accept(ctx context.Context) (*quic.Conn, error) {
	for {
		c, err := l.Listener.Accept(ctx)
		if err != nil {
			return nil, err
		}
		var ip netip.Addr
		if ua, ok := c.RemoteAddr().(*net.UDPAddr); ok {
			ip = ua.AddrPort().Addr().Unmap()
		}
		if !l.limit.take(ip) {
			c.CloseWithError(h3ExcessiveLoad, "too many connections")
			continue
		}
		context.AfterFunc(c.Context(), func() { l.limit.release(ip) })
		return c, nil
	}
}

// h3Bound is the TCP listener of a listener that also serves HTTP/3: closing it (as a reload
// does before binding the address again) closes the UDP side too.
type h3Bound struct {
	net.Listener
	h3 *h3Server
}

func (b *h3Bound) Close() error {
	b.h3.close()
	return b.Listener.Close()
}

// h3Adapter hands HTTP/3 requests to the net/http adapter HTTP/2 uses, after one fix: HTTP/3
// has no way to say "no body" in the request head, so a GET arrives with an unknown length.
// Forwarded as is, it would reach the upstream as a chunked GET, which some servers refuse.
type h3Adapter struct{ h2Adapter }

func (a *h3Adapter) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	if hr.ContentLength < 0 && bodiless(hr.Method) {
		// The client ended the stream with the head (what every client does for a GET), so the
		// first read ends at once; a GET that does carry a body keeps it, length unknown.
		p := &peekedBody{r: hr.Body}
		n, err := hr.Body.Read(p.b[:])
		switch {
		case n == 0 && err == io.EOF:
			hr.ContentLength, hr.Body = 0, http.NoBody
		case n == 0 && err != nil:
			return // the client reset the stream
		default:
			p.n = n
			hr.Body = p
		}
	}
	a.h2Adapter.ServeHTTP(w, hr)
}

// bodiless reports methods whose requests carry no body by convention.
func bodiless(method string) bool {
	switch method {
	case "GET", "HEAD", "DELETE", "OPTIONS", "TRACE":
		return true
	}
	return false
}

// peekedBody replays the byte read to find out whether a body exists.
type peekedBody struct {
	b [1]byte
	n int
	r io.ReadCloser
}

func (p *peekedBody) Read(b []byte) (int, error) {
	if p.n > 0 && len(b) > 0 {
		b[0] = p.b[0]
		p.n = 0
		return 1, nil
	}
	return p.r.Read(b)
}

func (p *peekedBody) Close() error { return p.r.Close() }

// altSvc advertises HTTP/3 on the h1 and h2 responses of a listener that serves it. The field is
// built once when the port is known, and appended to the engine's pooled header slice, so it
// costs no allocation per request. An error answer that resets the header drops it; any other
// response of the listener carries it.
type altSvc struct {
	next  httpx.Handler
	field httpx.Field
}

// altSvcField is `Alt-Svc: h3=":PORT"; ma=86400`: clients may use HTTP/3 on that port of the
// same host for a day.
func altSvcField(port int) httpx.Field {
	return httpx.Field{Name: "Alt-Svc", Value: `h3=":` + strconv.Itoa(port) + `"; ma=86400`}
}

func (a *altSvc) ServeHTTPX(w httpx.ResponseWriter, r *httpx.Request) {
	h := w.Header()
	*h = append(*h, a.field)
	a.next.ServeHTTPX(w, r)
}
