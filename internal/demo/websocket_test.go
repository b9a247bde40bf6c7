package demo

import (
	"bytes"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

func TestWebSocketEcho(t *testing.T) {
	base := startEcho(t, EchoOptions{Name: "w"})
	ctx := t.Context()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.CloseNow() }()
	if resp.Header.Get(BackendHeader) != "w" {
		t.Errorf("handshake X-Demo-Backend %q", resp.Header.Get(BackendHeader))
	}
	c.SetReadLimit(1 << 21)
	tests := []struct {
		typ  websocket.MessageType
		data []byte
	}{
		{websocket.MessageText, []byte("hello")},
		{websocket.MessageBinary, []byte{0, 1, 2, 255}},
		{websocket.MessageText, bytes.Repeat([]byte("x"), 1<<20)},
		{websocket.MessageBinary, nil},
	}
	for _, tt := range tests {
		if err := c.Write(ctx, tt.typ, tt.data); err != nil {
			t.Fatal(err)
		}
		typ, got, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if typ != tt.typ || !bytes.Equal(got, tt.data) {
			t.Errorf("echo of %v (%d bytes) came back as %v (%d bytes)", tt.typ, len(tt.data), typ, len(got))
		}
	}
	if err := c.Close(websocket.StatusNormalClosure, "done"); err != nil {
		t.Errorf("close handshake: %v", err)
	}
}
