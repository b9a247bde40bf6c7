package proxy

import (
	"io"
	"net"
	"sync"

	"aya/internal/httpx"
)

// tunnel completes an accepted upgrade (101): it sends the 101 head to the client over the raw
// connection, then copies bytes both ways until each side has closed. A half-close is passed
// on (CloseWrite), so a client that finishes sending still receives the rest.
func (p *Proxy) tunnel(w httpx.ResponseWriter, r *httpx.Request, resp *httpx.Response) {
	up, ok := resp.Body.(io.ReadWriteCloser)
	hj, ok2 := w.(httpx.Hijacker)
	if !ok || !ok2 {
		resp.Body.Close()
		WriteError(w, r, 502, "upstream switched protocols but the connection cannot be tunnelled")
		return
	}
	conn, buffered, err := hj.Hijack()
	if err != nil {
		up.Close()
		p.log.Warn("hijack failed", "route", p.route.Name, "error", err)
		return
	}
	defer conn.Close()
	defer up.Close()

	head := make([]byte, 0, 256)
	head = append(head, "HTTP/1.1 101 Switching Protocols\r\n"...)
	for _, f := range resp.Header {
		if httpx.EqualFold(f.Name, "Content-Length") || httpx.EqualFold(f.Name, "Transfer-Encoding") {
			continue
		}
		head = append(head, f.Name...)
		head = append(head, ": "...)
		head = append(head, f.Value...)
		head = append(head, "\r\n"...)
	}
	head = append(head, "\r\n"...)
	if _, err := conn.Write(head); err != nil {
		return
	}
	if len(buffered) > 0 {
		if _, err := up.Write(buffered); err != nil {
			return
		}
	}

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		io.Copy(up, conn)
		closeWrite(up)
	}()
	go func() {
		defer wg.Done()
		io.Copy(conn, up)
		closeWrite(conn)
	}()
	wg.Wait()
}

func closeWrite(c any) {
	switch v := c.(type) {
	case interface{ CloseWrite() error }:
		v.CloseWrite()
	case net.Conn:
		v.Close()
	case io.Closer:
		v.Close()
	}
}
