//go:build unix

package gateway

import (
	"net"
	"syscall"
)

// udpReceiveBuffer reads the socket's receive buffer size as the kernel reports it.
func udpReceiveBuffer(pc net.PacketConn) (int, bool) {
	sc, ok := pc.(syscall.Conn)
	if !ok {
		return 0, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var size int
	var serr error
	if err := rc.Control(func(fd uintptr) {
		size, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
	}); err != nil || serr != nil {
		return 0, false
	}
	return size, true
}
