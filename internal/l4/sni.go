package l4

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"time"
)

// errPeeked stops the TLS handshake once the ClientHello is read: aya only looks.
var errPeeked = errors.New("l4: ClientHello read")

// peekServerName reads the client's TLS ClientHello from r and returns the server name it
// asks for ("" when it names none) and every byte read, which the target must receive first.
// crypto/tls does the parsing (records, fragmentation, extensions) so that what aya accepts
// is exactly what a Go TLS server would; the handshake is abandoned after the hello, and its
// alert goes nowhere. ok is false when the bytes are not a TLS ClientHello.
func peekServerName(r io.Reader) (name string, read []byte, ok bool) {
	var rec bytes.Buffer
	hello := false
	cfg := &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		name, hello = h.ServerName, true
		return nil, errPeeked
	}}
	_ = tls.Server(peekConn{r: io.TeeReader(r, &rec)}, cfg).Handshake()
	return strings.ToLower(name), rec.Bytes(), hello
}

// peekConn is the read side of a connection for the abandoned handshake; writes go nowhere.
type peekConn struct{ r io.Reader }

func (c peekConn) Read(p []byte) (int, error)     { return c.r.Read(p) }
func (peekConn) Write(p []byte) (int, error)      { return 0, io.ErrClosedPipe }
func (peekConn) Close() error                     { return nil }
func (peekConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (peekConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (peekConn) SetDeadline(time.Time) error      { return nil }
func (peekConn) SetReadDeadline(time.Time) error  { return nil }
func (peekConn) SetWriteDeadline(time.Time) error { return nil }

// sniTable maps server names to upstream names: exact names, then "*.suffix" patterns from
// the longest suffix, then the default.
type sniTable struct {
	exact    map[string]string
	wildcard map[string]string // ".example.com" for "*.example.com"
	def      string            // "" : refuse
}

func newSNITable(m map[string]string, def string) *sniTable {
	t := &sniTable{exact: map[string]string{}, wildcard: map[string]string{}, def: def}
	for k, v := range m {
		switch {
		case k == "*":
			t.def = v
		case strings.HasPrefix(k, "*."):
			t.wildcard[strings.ToLower(k[1:])] = v
		default:
			t.exact[strings.ToLower(k)] = v
		}
	}
	return t
}

// lookup returns the upstream for a server name ("" when it names none), or "".
func (t *sniTable) lookup(name string) string {
	if name != "" {
		if u, ok := t.exact[name]; ok {
			return u
		}
		for i := strings.IndexByte(name, '.'); i >= 0; {
			if u, ok := t.wildcard[name[i:]]; ok {
				return u
			}
			j := strings.IndexByte(name[i+1:], '.')
			if j < 0 {
				break
			}
			i += 1 + j
		}
	}
	return t.def
}
