//go:build unix

package h1

import "syscall"

// probe tells whether an idle connection is still usable, with one non-blocking peek at its
// socket: EAGAIN means open and quiet. EOF or an error means the upstream closed it. Bytes
// waiting on a plain connection are an answer to nothing (some servers send 408 before
// closing an idle connection), so it is not reused either; under TLS they may be a session
// ticket and cannot be told from a close_notify without decrypting, so the connection is kept
// and the retry on a closed reused connection covers the rest.
//
// Measured against the alternative, a goroutine blocked in Read on every idle connection,
// the peek costs one system call only on connections idle for probeIdleAfter, while the
// reader costs a deadline change and a goroutine handoff on every reuse.
func (cc *clientConn) probe() bool {
	if cc.raw == nil {
		return true
	}
	cc.probeOK = false
	if err := cc.raw.Read(cc.probeFn); err != nil {
		return false
	}
	return cc.probeOK
}

func (cc *clientConn) probeFD(fd uintptr) bool {
	n, _, err := syscall.Recvfrom(int(fd), cc.probeBuf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	switch {
	case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK || err == syscall.EINTR:
		cc.probeOK = true
	case err == nil && n > 0:
		cc.probeOK = cc.isTLS
	}
	return true
}
