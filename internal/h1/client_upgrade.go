package h1

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"time"

	"aya/internal/httpx"
)

// upgradeConn is resp.Body after 101 Switching Protocols: the upstream connection itself, for
// the proxy to tunnel (WebSocket). Bytes the upstream sent right behind the 101 head, already
// in the read buffer, come out first. It never returns to the pool.
type upgradeConn struct {
	cc     *clientConn
	closed atomic.Bool
}

// upgrade hands the connection over as resp.Body, after checking the request asked for it:
// a 101 to a plain request would turn a proxied exchange into a raw tunnel.
func (cc *clientConn) upgrade(req *httpx.Request, resp *httpx.Response) (retry bool, err error) {
	ctx := cc.ctx
	if !req.Header.Has("Upgrade") {
		cc.fail()
		return false, cc.c.classify(ctx, "read response header", errUnexpected101, KindProtocol)
	}
	if !cc.unwatch() {
		cc.fail()
		return false, cc.c.classify(ctx, "read response header", context.Canceled, KindCanceled)
	}
	// The tunnel keeps its own idle policy: none of the exchange's deadlines carry over.
	cc.conn.SetDeadline(time.Time{})
	cc.upg.closed.Store(false)
	resp.Body = &cc.upg
	return false, nil
}

// Read returns buffered bytes first, then reads the connection.
func (u *upgradeConn) Read(p []byte) (int, error) {
	if u.cc.br.Buffered() > 0 {
		return u.cc.br.Read(p)
	}
	return u.cc.conn.Read(p)
}

func (u *upgradeConn) Write(p []byte) (int, error) { return u.cc.conn.Write(p) }

// CloseWrite half-closes the connection (TCP FIN, or TLS close_notify), so an upstream that
// reads until EOF sees the end of what the client sent while its answer still flows back.
func (u *upgradeConn) CloseWrite() error {
	if cw, ok := u.cc.conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// Close closes the connection; later calls do nothing.
func (u *upgradeConn) Close() error {
	if !u.closed.CompareAndSwap(false, true) {
		return nil
	}
	u.cc.c.pool.drop()
	return u.cc.conn.Close()
}

var _ io.ReadWriteCloser = (*upgradeConn)(nil)
