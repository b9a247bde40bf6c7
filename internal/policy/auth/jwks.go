package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// maxJWKSBody bounds a key set download.
	maxJWKSBody = 1 << 20
	// DefaultMinRefetch is the least time between two fetches that an unknown key id
	// triggers, so tokens with made-up key ids cannot turn aya into a flood at the issuer.
	DefaultMinRefetch = 2 * time.Second
)

// JWKS is a JSON Web Key Set fetched from a URL: at start, every Refresh, and when a token
// names a key id the set does not hold (key rotation), at most once per MinRefetch. A failed
// fetch keeps the keys it had.
type JWKS struct {
	url        string
	client     *http.Client
	timeout    time.Duration
	minRefetch time.Duration
	log        *slog.Logger

	keys atomic.Pointer[keySet]

	mu        sync.Mutex
	inflight  chan struct{} // closed when the fetch in progress ends; nil when none
	lastFetch time.Time

	cancel context.CancelFunc
	done   chan struct{}
}

type keySet struct {
	byKid map[string][]JWK
	all   []JWK
}

// JWKSOptions configure a JWKS.
type JWKSOptions struct {
	URL          string
	Refresh      time.Duration
	FetchTimeout time.Duration
	MinRefetch   time.Duration // 0: DefaultMinRefetch
	Client       *http.Client  // nil: a client of its own
	Log          *slog.Logger
}

// NewJWKS starts fetching the set in the background; Close stops it.
func NewJWKS(o JWKSOptions) *JWKS {
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.MinRefetch <= 0 {
		o.MinRefetch = DefaultMinRefetch
	}
	ctx, cancel := context.WithCancel(context.Background())
	j := &JWKS{url: o.URL, client: o.Client, timeout: o.FetchTimeout, minRefetch: o.MinRefetch,
		log: o.Log.With("jwks_url", o.URL), cancel: cancel, done: make(chan struct{})}
	j.keys.Store(&keySet{})
	go j.loop(ctx, o.Refresh)
	return j
}

// Close stops the background refresh and waits for it.
func (j *JWKS) Close() {
	j.cancel()
	<-j.done
}

func (j *JWKS) loop(ctx context.Context, every time.Duration) {
	defer close(j.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		j.refetch(ctx, true)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Keys returns the keys of id kid; every key when kid is "".
func (j *JWKS) Keys(ctx context.Context, kid string) ([]JWK, error) {
	if ks := j.find(kid); len(ks) > 0 {
		return ks, nil
	}
	if err := j.refetch(ctx, false); err != nil {
		return nil, err
	}
	return j.find(kid), nil
}

func (j *JWKS) find(kid string) []JWK {
	s := j.keys.Load()
	if kid == "" {
		return s.all
	}
	return s.byKid[kid]
}

// refetch fetches the set unless a fetch ended less than minRefetch ago (scheduled fetches
// always go); callers during a fetch wait for it instead of starting another.
func (j *JWKS) refetch(ctx context.Context, scheduled bool) error {
	j.mu.Lock()
	if ch := j.inflight; ch != nil {
		j.mu.Unlock()
		select {
		case <-ch:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if !scheduled && time.Since(j.lastFetch) < j.minRefetch {
		j.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	j.inflight = ch
	j.mu.Unlock()

	// The fetch is not tied to the request that asked for it: every waiter shares it.
	parent := context.Background()
	if scheduled {
		parent = ctx // the refresh loop's: Close stops its fetch
	}
	fctx, cancel := context.WithTimeout(parent, j.timeout)
	err := j.fetch(fctx)
	cancel()

	j.mu.Lock()
	j.inflight = nil
	j.lastFetch = time.Now()
	j.mu.Unlock()
	close(ch)
	if err != nil {
		j.log.Warn("jwks fetch failed; keeping the keys already known", "err", err)
	}
	return nil
}

func (j *JWKS) fetch(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := j.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBody+1))
	if err != nil {
		return err
	}
	if len(body) > maxJWKSBody {
		return fmt.Errorf("key set larger than %d bytes", maxJWKSBody)
	}
	ks, err := ParseJWKS(body)
	if err != nil {
		return err
	}
	set := &keySet{byKid: map[string][]JWK{}}
	for _, k := range ks {
		set.all = append(set.all, k.JWK)
		set.byKid[k.Kid] = append(set.byKid[k.Kid], k.JWK)
	}
	j.keys.Store(set)
	j.log.Debug("jwks fetched", "keys", len(ks))
	return nil
}

// SetKey is one key of a parsed set with its id.
type SetKey struct {
	JWK
	Kid string
}

type rawJWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// ParseJWKS reads the public signing keys of a JWK set (RFC 7517): RSA, EC (P-256, P-384,
// P-521) and OKP Ed25519. Keys for encryption and of other types are skipped, not refused,
// so that one exotic key does not take the whole set down.
func ParseJWKS(data []byte) ([]SetKey, error) {
	var doc struct {
		Keys []rawJWK `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("key set is not JSON: %w", err)
	}
	var out []SetKey
	for _, r := range doc.Keys {
		if r.Use != "" && r.Use != "sig" {
			continue
		}
		k, err := r.publicKey()
		if err != nil {
			if errors.Is(err, errSkip) {
				continue
			}
			return nil, fmt.Errorf("key %q: %w", r.Kid, err)
		}
		out = append(out, SetKey{JWK: JWK{Key: k, Alg: r.Alg}, Kid: r.Kid})
	}
	return out, nil
}

var errSkip = errors.New("not a signing key aya verifies")

func (r *rawJWK) publicKey() (any, error) {
	switch r.Kty {
	case "RSA":
		n, err1 := b64int(r.N)
		e, err2 := b64int(r.E)
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31 || n.BitLen() < 2048 {
			return nil, errors.New("RSA key below 2048 bits or with an odd exponent")
		}
		return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
	case "EC":
		var c elliptic.Curve
		switch r.Crv {
		case "P-256":
			c = elliptic.P256()
		case "P-384":
			c = elliptic.P384()
		case "P-521":
			c = elliptic.P521()
		default:
			return nil, errSkip
		}
		x, err1 := base64.RawURLEncoding.DecodeString(r.X)
		y, err2 := base64.RawURLEncoding.DecodeString(r.Y)
		size := (c.Params().BitSize + 7) / 8
		if errors.Join(err1, err2) != nil || len(x) != size || len(y) != size {
			return nil, fmt.Errorf("EC key x and y must be %d bytes each, base64url, and a point on %s", size, r.Crv)
		}
		k, err := ecdsa.ParseUncompressedPublicKey(c, append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, fmt.Errorf("EC key x and y must be %d bytes each, base64url, and a point on %s", size, r.Crv)
		}
		return k, nil
	case "OKP":
		if r.Crv != "Ed25519" {
			return nil, errSkip
		}
		x, err := base64.RawURLEncoding.DecodeString(r.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("Ed25519 key x must be 32 bytes, base64url")
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, errSkip
}

func b64int(s string) (*big.Int, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, errors.New("a number is not base64url")
	}
	return new(big.Int).SetBytes(b), nil
}
