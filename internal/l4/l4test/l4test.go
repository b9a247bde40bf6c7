// Package l4test runs loopback TCP servers for tests and benchmarks of aya's L4 proxying (in
// internal/l4, the gateway and the end-to-end tests). It knows nothing of aya.
package l4test

import (
	"io"
	"net"
	"testing"
)

// Serve listens on a free loopback port until the test ends and runs handle for every
// connection, closing the connection when handle returns. It returns host:port.
func Serve(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// NameEcho serves connections that get name and a newline first, then an echo of what they
// send: which target a proxied connection reached is its first line.
func NameEcho(t testing.TB, name string) string {
	t.Helper()
	return Serve(t, func(c net.Conn) {
		io.WriteString(c, name+"\n")
		io.Copy(c, c)
	})
}
