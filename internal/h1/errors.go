package h1

import "strconv"

// writeError answers a request the engine refuses itself (a malformed or oversized head, a
// timeout, a handler panic) with aya's JSON error shape, and marks the connection for closing:
// after a framing error nothing that follows on the connection can be trusted.
func (c *conn) writeError(status int, msg string) {
	c.linger = true
	c.rw.closeAfter = true
	if c.rw.err != nil {
		return
	}
	body := make([]byte, 0, 64+len(msg))
	body = append(body, `{"error":{"code":`...)
	body = strconv.AppendInt(body, int64(status), 10)
	body = append(body, `,"message":`...)
	body = strconv.AppendQuoteToASCII(body, msg) // msg is engine text: ASCII, no escapes needed beyond JSON's
	body = append(body, "}}\n"...)

	bw := c.bw
	writeStatusLine(bw, status)
	bw.WriteString("Content-Type: application/json\r\nContent-Length: ")
	writeInt(bw, int64(len(body)))
	bw.WriteString("\r\n")
	bw.Write(c.srv.date.line())
	bw.WriteString("Connection: close\r\n\r\n")
	bw.Write(body)
	if err := bw.Flush(); err != nil {
		c.rw.fail(err)
	}
}
