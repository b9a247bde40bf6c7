package l4

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"

	"github.com/pires/go-proxyproto"
)

// readProxyHeader reads the PROXY v1 or v2 header a load balancer in front of aya sends,
// and returns the client address it carries; a LOCAL header (the balancer's own health
// check) keeps the peer's address. A connection without a valid header is refused: a
// listener that accepts PROXY must not let clients choose their own address by skipping it.
func readProxyHeader(br *bufio.Reader, peer netip.AddrPort) (netip.AddrPort, error) {
	h, err := proxyproto.Read(br)
	if err != nil {
		return peer, fmt.Errorf("PROXY header: %w", err)
	}
	if h.Command.IsLocal() {
		return peer, nil
	}
	if src, ok := h.SourceAddr.(*net.TCPAddr); ok {
		return src.AddrPort(), nil
	}
	return peer, fmt.Errorf("PROXY header: source %v is not a TCP address", h.SourceAddr)
}

// proxyHeader formats the PROXY header (version 1 or 2) that tells a target the client's
// address and the address it connected to.
func proxyHeader(version byte, client, local netip.AddrPort) ([]byte, error) {
	src := net.TCPAddrFromAddrPort(client)
	dst := net.TCPAddrFromAddrPort(local)
	// Mixed families (an IPv4 client on an IPv6 socket) are written as IPv4 when both can be.
	if client.Addr().Is4In6() || local.Addr().Is4In6() {
		src = net.TCPAddrFromAddrPort(netip.AddrPortFrom(client.Addr().Unmap(), client.Port()))
		dst = net.TCPAddrFromAddrPort(netip.AddrPortFrom(local.Addr().Unmap(), local.Port()))
	}
	return proxyproto.HeaderProxyFromAddrs(version, src, dst).Format()
}
