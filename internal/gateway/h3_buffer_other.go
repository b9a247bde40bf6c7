//go:build !unix

package gateway

import "net"

// udpReceiveBuffer is not measured here; the small-buffer hint is then not logged.
func udpReceiveBuffer(net.PacketConn) (int, bool) { return 0, false }
