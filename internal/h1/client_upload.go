package h1

import (
	"bufio"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"aya/internal/httpx"
)

// upload writes a long or unknown-length request body from its own goroutine while the
// exchange waits for the response head, so an upstream that answers before it has read the
// whole body (413, 401, a redirect) is heard instead of deadlocking both sides. Who finished
// first is settled by one compare-and-swap on phase, and decides who owns the deadlines:
//
//   - the writer first (the usual case): it arms the response-header timeout on the read
//     side, or, when reading the body from the client failed, wakes the head read at once;
//   - the head first: the exchange stops the writer by expiring its write deadline, and the
//     connection is not reused unless every byte had already been sent.
//
// The goroutine is joined before the connection or req is released, since it uses both.
type upload struct {
	cc    *clientConn
	req   *httpx.Request
	ob    *outBody
	phase atomic.Int32
	stop  atomic.Bool
	done  chan struct{} // one token per run, made once per connection

	// Owned by the exchange.
	running bool // a writer was started and not joined yet

	// Written by the writer, read by the exchange after join.
	err     error
	bodyErr bool // err came from reading req.Body (or its framing), not from the connection
	sentAll bool
}

const (
	uploadRacing      int32 = iota // the head read and the writer are both running
	uploadHeadFirst                // the head read finished first
	uploadWriterFirst              // the writer finished first
)

// start sends the head and the body from a new goroutine.
func (u *upload) start(req *httpx.Request, ob *outBody) {
	u.req, u.ob = req, ob
	u.err, u.bodyErr, u.sentAll = nil, false, false
	u.stop.Store(false)
	u.phase.Store(uploadRacing)
	u.running = true
	// The response-header timeout starts when the body is sent, however long that takes;
	// until then the head read waits without a deadline (the context still bounds it).
	u.cc.setReadDeadline(time.Time{})
	u.cc.rdl = clientDeadlineUnknown
	go u.run()
}

func (u *upload) run() {
	cc := u.cc
	err := u.send()
	u.err, u.sentAll = err, err == nil
	if u.phase.CompareAndSwap(uploadRacing, uploadWriterFirst) {
		if u.bodyErr {
			// The request cannot be completed: stop waiting for its answer.
			cc.setReadDeadline(clientDeadlineUnknown)
		} else {
			cc.setReadDeadline(time.Now().Add(cc.c.responseHeaderTimeout))
		}
	}
	u.done <- struct{}{}
}

// send writes the head, the recorded start of the body (a replay after a closed reused
// connection), then the rest of req.Body, flushing after every read so a body the client
// streams slowly reaches the upstream as it comes.
func (u *upload) send() error {
	cc, ob, c := u.cc, u.ob, u.cc.c
	if cc.bw == nil {
		cc.bw = bufio.NewWriterSize(cc.conn, clientWriteBufferSize)
		cc.cw.bw = cc.bw
	}
	bw := cc.bw
	if err := cc.armWrite(time.Now(), c.writeTimeout); err != nil {
		return err
	}
	if _, err := bw.Write(cc.wbuf); err != nil {
		return err
	}
	if err := u.writeBody(ob.rec); err != nil {
		return err
	}
	for !ob.eof {
		if u.stop.Load() {
			return errUploadStopped
		}
		buf := ob.rec[len(ob.rec):cap(ob.rec)]
		if len(buf) == 0 {
			// The replay buffer is full: from now on it is scratch space and the body can no
			// longer be sent again.
			ob.overflow = true
			ob.rec = ob.rec[:0]
			buf = ob.rec[:cap(ob.rec)]
		}
		if !ob.chunked && int64(len(buf)) > ob.length-ob.consumed {
			buf = buf[:ob.length-ob.consumed]
		}
		n, rerr := u.req.Body.Read(buf)
		ob.consumed += int64(n)
		if !ob.overflow {
			ob.rec = ob.rec[:len(ob.rec)+n]
		}
		if err := cc.armWrite(time.Now(), c.writeTimeout); err != nil {
			return err
		}
		if err := u.writeBody(buf[:n]); err != nil {
			return err
		}
		switch {
		case rerr == io.EOF:
			ob.eof = true
			if !ob.chunked && ob.consumed < ob.length {
				u.bodyErr = true
				return errBodyShort
			}
		case rerr != nil:
			u.bodyErr = true
			return fmt.Errorf("read request body: %w", rerr)
		case !ob.chunked && ob.consumed == ob.length:
			ob.eof = true
		}
		if !ob.eof {
			if err := bw.Flush(); err != nil {
				return err
			}
		}
	}
	if ob.chunked {
		if err := cc.cw.Close(u.req.Trailer); err != nil {
			u.bodyErr = true
			return err
		}
	}
	return bw.Flush()
}

func (u *upload) writeBody(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	var err error
	if u.ob.chunked {
		_, err = u.cc.cw.Write(p)
	} else {
		_, err = u.cc.bw.Write(p)
	}
	return err
}

// afterHead settles the race with the writer once the response head has been read (final:
// a response that ends the exchange with a body to read) or has failed. It returns the error
// the exchange should report.
func (u *upload) afterHead(final bool, herr error) error {
	cc := u.cc
	// The writer or start changed the read deadline behind armRead's back.
	cc.rdl = clientDeadlineUnknown
	if u.phase.CompareAndSwap(uploadRacing, uploadHeadFirst) {
		// The upstream answered before it had the whole body: stop sending (RFC 9112 §9.5
		// lets it answer early and close). The writer is joined when the body is closed.
		u.stop.Store(true)
		cc.conn.SetWriteDeadline(clientDeadlineUnknown)
		if final {
			return nil
		}
	}
	u.join()
	if u.err != nil {
		cc.rh.keepAlive = false
		if u.bodyErr {
			return cc.c.requestErr(u.err)
		}
	}
	return herr
}

// join waits for the writer to finish.
func (u *upload) join() {
	<-u.done
	u.running = false
	u.req = nil
	// The writer's deadlines, and a stop's, are not what wdl says any more.
	u.cc.wdl = clientDeadlineUnknown
}
