package demo

import (
	"io"
	"net/http"

	"github.com/coder/websocket"
)

const maxWSMessage = 64 << 20

// websocket echoes every message with its type until the client closes or the server stops.
func (s *echoServer) websocket(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		// Behind a gateway the browser's Origin names the gateway, not this backend; a demo
		// backend has no cookies to protect, so it accepts any origin.
		InsecureSkipVerify: true,
	})
	if err != nil {
		return // Accept has already answered the failed handshake
	}
	defer func() { _ = c.CloseNow() }()
	c.SetReadLimit(maxWSMessage)
	ctx := r.Context()
	for {
		typ, rd, err := c.Reader(ctx)
		if err != nil {
			// A close frame from the client is answered by the library itself; anything else
			// (server stopping, broken connection) ends the echo without ceremony.
			return
		}
		wr, err := c.Writer(ctx, typ)
		if err != nil {
			return
		}
		if _, err := io.Copy(wr, rd); err != nil {
			return
		}
		if err := wr.Close(); err != nil {
			return
		}
	}
}
