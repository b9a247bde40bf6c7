package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"aya/internal/config"
)

const (
	// checkJitter spreads checks by up to this share of the interval either way, so targets
	// checked by many aya instances (or many targets checked by one) are not probed in lockstep.
	checkJitter = 0.1
	// maxCheckBody bounds how much of an http check's response is read for the body match.
	maxCheckBody = 64 << 10
)

// checker runs the active health checks of one target.
type checker struct {
	cfg    config.Health
	target atomic.Pointer[Target] // the live pool's target: its address and TLS may change on reload
	cancel context.CancelFunc
	probe  prober
}

// prober runs one check; it owns what it reuses between checks (an HTTP transport, a gRPC
// connection) and releases it on close.
type prober interface {
	check(ctx context.Context, t *Target) error
	close()
}

func startChecker(parent context.Context, wg *sync.WaitGroup, log *slog.Logger, cfg config.Health, t *Target, changed func()) *checker {
	ctx, cancel := context.WithCancel(parent)
	c := &checker{cfg: cfg, cancel: cancel, probe: newProber(cfg)}
	c.target.Store(t)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer c.probe.close()
		c.run(ctx, log, changed)
	}()
	return c
}

// stop ends the checker; it returns at once, the goroutine exits at its next wait.
func (c *checker) stop() { c.cancel() }

func (c *checker) run(ctx context.Context, log *slog.Logger, changed func()) {
	interval := c.cfg.Interval.D()
	// The first check comes at a random point of the first interval, so a reload or a boot
	// with many targets does not fire every check at once.
	timer := time.NewTimer(time.Duration(rand.Int64N(int64(interval)/2 + 1)))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		t := c.target.Load()
		cctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout.D())
		err := c.probe.check(cctx, t)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if t.State.checked(time.Now(), err, c.cfg.Rise, c.cfg.Fall) {
			if err != nil {
				log.Warn("target failed its health checks; no new requests go to it", "checks", c.cfg.Fall, "error", err)
			} else {
				log.Info("target passed its health checks; it takes requests again", "checks", c.cfg.Rise)
			}
			changed()
		}
		timer.Reset(jitter(interval))
	}
}

// jitter returns d shifted by up to checkJitter of itself, either way.
func jitter(d time.Duration) time.Duration {
	j := int64(float64(d) * checkJitter)
	if j <= 0 {
		return d
	}
	return d + time.Duration(rand.Int64N(2*j+1)-j)
}

func newProber(cfg config.Health) prober {
	switch cfg.Type {
	case config.HealthTCP:
		return tcpProber{cfg: cfg}
	case config.HealthGRPC:
		return &grpcProber{cfg: cfg}
	}
	p := &httpProber{cfg: cfg}
	if re, ok := config.BodyRegex(cfg.Body); ok {
		p.body = regexp.MustCompile(re) // validated by config
	}
	return p
}

// checkAddr is the address a check dials: the target's, with the check's own port if set.
func checkAddr(cfg config.Health, t *Target) string {
	if cfg.Port == 0 {
		return t.Addr
	}
	host, _, err := net.SplitHostPort(t.Addr)
	if err != nil {
		host = t.Addr
	}
	return net.JoinHostPort(host, strconv.Itoa(cfg.Port))
}

type tcpProber struct{ cfg config.Health }

func (p tcpProber) check(ctx context.Context, t *Target) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", checkAddr(p.cfg, t))
	if err != nil {
		return err
	}
	return c.Close()
}

func (tcpProber) close() {}

// httpProber opens a new connection for every check (as HAProxy does), so a target that stops
// accepting is seen even while old keep-alive connections still answer.
type httpProber struct {
	cfg  config.Health
	body *regexp.Regexp

	mu        sync.Mutex
	tr        *http.Transport
	forTarget *Target
}

func (p *httpProber) transport(t *Target) *http.Transport {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tr != nil && p.forTarget == t {
		return p.tr
	}
	if p.tr != nil {
		p.tr.CloseIdleConnections()
	}
	protos := new(http.Protocols)
	tr := &http.Transport{DisableKeepAlives: true, Protocols: protos, TLSClientConfig: t.TLS}
	switch {
	case t.Scheme == config.SchemeH2C:
		protos.SetUnencryptedHTTP2(true)
	case t.Protocol == config.ProtocolH2:
		protos.SetHTTP2(true)
		tr.DisableKeepAlives = false // HTTP/2 has no connection per request; one per check is closed below
	default:
		protos.SetHTTP1(true)
	}
	p.tr, p.forTarget = tr, t
	return tr
}

func (p *httpProber) check(ctx context.Context, t *Target) error {
	scheme := "http"
	if t.TLS != nil {
		scheme = "https"
	}
	req, err := http.NewRequestWithContext(ctx, p.cfg.Method, scheme+"://"+checkAddr(p.cfg, t)+p.cfg.Path, nil)
	if err != nil {
		return err
	}
	req.Host = t.Host
	if p.cfg.Host != "" {
		req.Host = p.cfg.Host
	}
	for k, v := range p.cfg.Header {
		req.Header.Set(k, v)
	}
	req.Header.Set("User-Agent", "aya-health-check")
	tr := p.transport(t)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return err
	}
	defer func() {
		resp.Body.Close()
		if !tr.DisableKeepAlives {
			tr.CloseIdleConnections()
		}
	}()
	if !p.cfg.ExpectStatus.Contains(resp.StatusCode) {
		return fmt.Errorf("status %d, want %s", resp.StatusCode, statusSetString(p.cfg.ExpectStatus))
	}
	if p.cfg.Body == "" {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxCheckBody))
	if err != nil {
		return fmt.Errorf("reading the body: %w", err)
	}
	if p.body != nil && !p.body.Match(b) || p.body == nil && !strings.Contains(string(b), p.cfg.Body) {
		return fmt.Errorf("body does not match %q", p.cfg.Body)
	}
	return nil
}

func (p *httpProber) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tr != nil {
		p.tr.CloseIdleConnections()
	}
}

func statusSetString(s config.StatusSet) string {
	parts := make([]string, len(s))
	for i, r := range s {
		parts[i] = r.String()
	}
	return strings.Join(parts, ", ")
}

// grpcProber asks grpc.health.v1 over one connection kept between checks; gRPC reconnects it
// by itself, and a target that is gone fails the check as unavailable.
type grpcProber struct {
	cfg config.Health

	mu        sync.Mutex
	conn      *grpc.ClientConn
	forTarget *Target
}

func (p *grpcProber) client(t *Target) (*grpc.ClientConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn != nil && p.forTarget == t {
		return p.conn, nil
	}
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
	creds := insecure.NewCredentials()
	if t.TLS != nil {
		cfg := t.TLS.Clone()
		cfg.NextProtos = []string{"h2"}
		creds = credentials.NewTLS(cfg)
	}
	conn, err := grpc.NewClient("passthrough:///"+checkAddr(p.cfg, t), grpc.WithTransportCredentials(creds), grpc.WithAuthority(t.Host))
	if err != nil {
		return nil, err
	}
	p.conn, p.forTarget = conn, t
	return conn, nil
}

var errNotServing = errors.New("grpc health: not serving")

func (p *grpcProber) check(ctx context.Context, t *Target) error {
	conn, err := p.client(t)
	if err != nil {
		return err
	}
	res, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: p.cfg.GRPCService})
	if err != nil {
		return err
	}
	if res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("%w: %s", errNotServing, res.GetStatus())
	}
	return nil
}

func (p *grpcProber) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn != nil {
		p.conn.Close()
	}
}
