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

// chunk is how many bytes one copy call may move before the loop refreshes the idle
// deadlines. Between *net.TCPConn ends io.Copy splices (zero-copy on Linux), and with a
// chunk this size the deadline bookkeeping costs next to nothing per byte.
const chunk = 4 << 20

// bufPool holds copy buffers for the ends that cannot splice (a wrapped conn in tests).
var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

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
	for {
		if idle > 0 {
			d := time.Unix(0, act.last.Load()).Add(idle)
			src.SetReadDeadline(d)
			dst.SetWriteDeadline(d)
		}
		n, err := copyChunk(dst, src)
		if n > 0 {
			act.touch(time.Now())
			count.Add(float64(n))
		}
		switch {
		case err == nil && n == chunk:
			continue
		case err == nil:
			closeWrite(dst)
			return nil
		case idle > 0 && errors.Is(err, os.ErrDeadlineExceeded) && act.since(time.Now()) < idle:
			continue
		}
		return err
	}
}

// copyChunk moves up to chunk bytes. *net.TCPConn's ReadFrom splices from an
// io.LimitedReader over another *net.TCPConn, so the fast path keeps zero-copy.
func copyChunk(dst, src net.Conn) (int64, error) {
	lr := io.LimitedReader{R: src, N: chunk}
	if _, ok := dst.(io.ReaderFrom); ok {
		return io.Copy(dst, &lr)
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	return io.CopyBuffer(dst, &lr, *bp)
}

// closeWrite half-closes c when it can, else closes it.
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}
