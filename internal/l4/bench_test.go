package l4

import (
	"io"
	"net"
	"testing"
	"time"

	"aya/internal/l4/l4test"
)

// pingServer answers the first byte of every connection and discards the rest.
func pingServer(b *testing.B) string {
	b.Helper()
	return l4test.Serve(b, func(c net.Conn) {
		var one [1]byte
		if _, err := io.ReadFull(c, one[:]); err == nil {
			c.Write(one[:])
		}
		io.Copy(io.Discard, c)
	})
}

// BenchmarkTCPConnection is one short connection through the proxy: accept, balance,
// connect, one byte each way, close.
func BenchmarkTCPConnection(b *testing.B) {
	pool := newTestPool(b, "round_robin", pingServer(b))
	p := NewTCP(TCPConfig{Listener: "db", Upstream: "pg", Idle: time.Minute}, resolver(map[string]Pool{"pg": pool}), NewMetrics(), discard())
	addr := startTCP(b, p)
	var one [1]byte
	b.ReportAllocs()
	for b.Loop() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		c.Write([]byte{'P'})
		if _, err := io.ReadFull(c, one[:]); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

// BenchmarkTCPThroughput streams through one connection; b.SetBytes makes it MB/s.
func BenchmarkTCPThroughput(b *testing.B) {
	pool := newTestPool(b, "round_robin", pingServer(b))
	p := NewTCP(TCPConfig{Listener: "db", Upstream: "pg", Idle: time.Minute}, resolver(map[string]Pool{"pg": pool}), NewMetrics(), discard())
	addr := startTCP(b, p)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 256<<10)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
}
