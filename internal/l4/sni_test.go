package l4

import (
	"bytes"
	"crypto/tls"
	"net"
	"testing"
	"time"
)

func TestSNILookup(t *testing.T) {
	tab := newSNITable(map[string]string{"a.example": "a", "*.example": "wild", "*.deep.example": "deep"}, "def")
	for _, tc := range []struct{ name, want string }{
		{"a.example", "a"},
		{"b.example", "wild"},
		{"x.y.example", "wild"},
		{"x.deep.example", "deep"},
		{"example", "def"},
		{"", "def"},
		{"other.test", "def"},
	} {
		if got := tab.lookup(tc.name); got != tc.want {
			t.Errorf("lookup(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := newSNITable(map[string]string{"a.example": "a"}, "").lookup("b.example"); got != "" {
		t.Errorf("no default: lookup = %q, want refusal", got)
	}
}

// clientHello returns the bytes a Go TLS client sends first for serverName.
func clientHello(t testing.TB, serverName string) []byte {
	t.Helper()
	c1, c2 := net.Pipe()
	go func() {
		tls.Client(c1, &tls.Config{ServerName: serverName, InsecureSkipVerify: true}).Handshake()
		c1.Close()
	}()
	c2.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 64<<10)
	n, _ := c2.Read(buf)
	c2.Close()
	return buf[:n]
}

func TestPeekServerName(t *testing.T) {
	hello := clientHello(t, "Db.Example")
	for _, tc := range []struct {
		name  string
		in    []byte
		want  string
		hello bool
	}{
		{"tls", hello, "db.example", true},
		{"tls without sni", clientHello(t, ""), "", true},
		{"plain text", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "", false},
		{"truncated", hello[:20], "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name, read, ok := peekServerName(bytes.NewReader(tc.in))
			if name != tc.want || ok != tc.hello {
				t.Errorf("peek = %q, %v; want %q, %v", name, ok, tc.want, tc.hello)
			}
			if !bytes.HasPrefix(tc.in, read) {
				t.Error("the bytes read are not a prefix of the input: the target would see another stream")
			}
			if tc.hello && !bytes.Equal(read, tc.in) {
				t.Errorf("read %d of the hello's %d bytes", len(read), len(tc.in))
			}
		})
	}
}

func BenchmarkPeekServerName(b *testing.B) {
	hello := clientHello(b, "db.example")
	b.ReportAllocs()
	for b.Loop() {
		if name, _, _ := peekServerName(bytes.NewReader(hello)); name != "db.example" {
			b.Fatal(name)
		}
	}
}

func BenchmarkSNILookup(b *testing.B) {
	tab := newSNITable(map[string]string{"a.example": "a", "*.example": "wild"}, "def")
	b.ReportAllocs()
	for b.Loop() {
		if tab.lookup("x.y.example") != "wild" {
			b.Fatal()
		}
	}
}
