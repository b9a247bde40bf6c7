package l4

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// chunk is how many bytes one splice call may move before the loop refreshes the idle
// deadlines. Between *net.TCPConn ends io.Copy splices (zero-copy on Linux), and with a
// chunk this size the deadline bookkeeping costs next to nothing per byte.
const chunk = 4 << 20

// smallBuf is the buffer of the copy that runs until a direction shows it streams: a read
// that fills it switches that direction to splice. Short exchanges (a query, a handshake, a
// ping) then cost one read and one write, where a splice costs a pipe and four calls; bulk
// transfers pay one buffered read before going zero-copy. HAProxy's splice-auto decides
// the same way, with the same 16 KiB.
const smallBuf = 16 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, smallBuf); return &b }}

// activity is when a connection last moved bytes either way (unix nanoseconds). A
// connection is idle when neither direction moved bytes for the idle timeout.
type activity struct{ last atomic.Int64 }

func (a *activity) touch(now time.Time) { a.last.Store(now.UnixNano()) }

func (a *activity) since(now time.Time) time.Duration {
	return now.Sub(time.Unix(0, a.last.Load()))
}

// pipe copies src to dst until src ends (then it half-closes dst, so the other side sees
// EOF while the opposite direction goes on), an error, or idle: no bytes either way for
// idle (0: never). A deadline that passes while this direction waited but the other moved
// bytes is not idleness: the deadline is set again from the last activity.
func pipe(dst, src net.Conn, idle time.Duration, act *activity, count prometheus.Counter) error {
	bp := bufPool.Get().(*[]byte)
	buf := *bp // nil once the direction streams (spliced)
	defer func() {
		if bp != nil {
			bufPool.Put(bp)
		}
	}()
	for {
		if idle > 0 {
			d := time.Unix(0, act.last.Load()).Add(idle)
			src.SetReadDeadline(d)
			dst.SetWriteDeadline(d)
		}
		var n int64
		var err error
		eof := false
		if buf != nil {
			var r int
			r, err = src.Read(buf)
			if r > 0 {
				w, werr := dst.Write(buf[:r])
				n = int64(w)
				if werr != nil {
					err = werr
				}
			}
			if err == io.EOF {
				err, eof = nil, true
			}
			if r == len(buf) {
				bufPool.Put(bp)
				bp, buf = nil, nil
			}
		} else {
			n, err = copyChunk(dst, src)
			eof = err == nil && n < chunk
		}
		if n > 0 {
			act.touch(time.Now())
			count.Add(float64(n))
		}
		switch {
		case err == nil && eof:
			closeWrite(dst)
			return nil
		case err == nil:
			continue
		case idle > 0 && errors.Is(err, os.ErrDeadlineExceeded) && act.since(time.Now()) < idle:
			continue
		}
		return err
	}
}

// copyChunk moves up to chunk bytes. *net.TCPConn's ReadFrom splices from an
// io.LimitedReader over another *net.TCPConn, so the fast path stays zero-copy; other
// conns (wrapped ones in tests) copy through a buffer.
func copyChunk(dst, src net.Conn) (int64, error) {
	return io.Copy(dst, &io.LimitedReader{R: src, N: chunk})
}

// closeWrite half-closes c when it can, else closes it.
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}
