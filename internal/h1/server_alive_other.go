//go:build !unix

package h1

import "net"

// peerGone cannot peek at a socket on this platform; a gone client is noticed on write.
func peerGone(net.Conn) bool { return false }
