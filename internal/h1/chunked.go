package h1

// The chunked transfer coding (RFC 9112 §7.1), shared by the server (request bodies in,
// response bodies out) and the upstream client (the reverse).
//
// API for both sides of the package:
//
//	var cr chunkedReader
//	cr.reset(br, &req.Trailer, defaultChunkLimits) // or newChunkedReader(br, &trailer, lim)
//	n, err := cr.Read(p)     // de-chunked bytes; io.EOF after the last chunk AND the trailer
//	                         // section have been consumed, so br is positioned at the next message
//	cr.done()                // true once that happened: the connection may be reused
//
//	cw := chunkedWriter{bw: bw} // or newChunkedWriter(bw)
//	cw.Write(p)              // one chunk per non-empty Write, buffered in bw (no flush)
//	cw.Close(trailer)        // last chunk, trailer fields, final CRLF (no flush)
//
// Errors from the reader wrap errMalformedChunked (errors.Is) when the peer broke the framing:
// the connection must then be closed, since where the next message starts is unknown.
// Truncation (EOF mid-body) is io.ErrUnexpectedEOF.
//
// The decoder is deliberately stricter than nginx, HAProxy and net/http, because a body that two
// hops frame differently is a request-smuggling vector:
//   - every line ends in CRLF: bare LF is refused after a chunk size, after chunk data, after
//     the last "0" chunk and after every trailer line ("0\n\n" is an error, not an end);
//   - a chunk size is 1-16 hex digits that fit in an int64, with nothing before it and no
//     whitespace after it (net/http tolerates trailing whitespace);
//   - chunk extensions must follow the RFC grammar (token[=token|quoted-string]); they are
//     checked and dropped, never forwarded, and their total overhead is bounded as in net/http;
//   - trailer fields are parsed like header fields (token name, no space before the colon, no
//     obs-fold, no control bytes in values), bounded in bytes and count, and fields that change
//     framing or routing (Content-Length, Transfer-Encoding, Host, Trailer, Connection...) are
//     refused, since a later hop might merge trailers into the header.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"aya/internal/httpx"
)

// errMalformedChunked marks a body whose chunked framing is broken.
var errMalformedChunked = errors.New("h1: malformed chunked body")

// errInvalidTrailer is returned by chunkedWriter.Close for a trailer field that is not a
// token name with a clean value, or that is not allowed in a trailer at all.
var errInvalidTrailer = errors.New("h1: invalid trailer field")

const (
	// maxChunkLineBytes bounds a chunk-size line (size plus extensions), as net/http does.
	maxChunkLineBytes = 4096
	// maxChunkOverhead bounds the bytes of framing (mostly extensions) a peer may send beyond
	// 16 bytes per chunk plus twice the data, so "1;<4 KiB>\r\nX\r\n" cannot be used to make
	// us parse megabytes for a few bytes of body.
	maxChunkOverhead = 16 * 1024
)

// chunkLimits bounds the trailer section a peer may send.
type chunkLimits struct {
	MaxTrailerBytes  int // all trailer lines, CRLFs included
	MaxTrailerFields int
}

// defaultChunkLimits matches the server's header defaults.
var defaultChunkLimits = chunkLimits{MaxTrailerBytes: 64 << 10, MaxTrailerFields: 100}

type chunkState uint8

const (
	chunkSize    chunkState = iota // expecting a chunk-size line
	chunkData                      // inside chunk data, left bytes to go
	chunkDataEnd                   // expecting the CRLF after chunk data
	chunkTrailer                   // after the last chunk: trailer fields, then CRLF
	chunkDone                      // body complete
)

// chunkedReader decodes a chunked body from br. The zero value is unusable; call reset.
// It is a plain struct so the server can embed one per connection and reuse it.
type chunkedReader struct {
	br      *bufio.Reader
	trailer *httpx.Header // may be nil: trailers are then validated and dropped
	lim     chunkLimits
	state   chunkState
	left    int64 // unread bytes of the current chunk
	excess  int64 // framing overhead beyond the allowance, see maxChunkOverhead
	err     error
	tbuf    []byte // trailer bytes, reused across bodies
	tspan   []int  // name/value offsets into tbuf, four per field
}

// newChunkedReader returns a decoder for one chunked body read from br. Trailer fields are
// appended to *trailer (when non-nil) as copies, so they outlive br's buffer.
func newChunkedReader(br *bufio.Reader, trailer *httpx.Header, lim chunkLimits) *chunkedReader {
	cr := &chunkedReader{}
	cr.reset(br, trailer, lim)
	return cr
}

// reset prepares cr for a new body, keeping its trailer scratch space. Zero limits take the
// defaults.
func (cr *chunkedReader) reset(br *bufio.Reader, trailer *httpx.Header, lim chunkLimits) {
	if lim.MaxTrailerBytes <= 0 {
		lim.MaxTrailerBytes = defaultChunkLimits.MaxTrailerBytes
	}
	if lim.MaxTrailerFields <= 0 {
		lim.MaxTrailerFields = defaultChunkLimits.MaxTrailerFields
	}
	*cr = chunkedReader{br: br, trailer: trailer, lim: lim, tbuf: cr.tbuf[:0], tspan: cr.tspan[:0]}
}

// done reports whether the whole body, trailers included, has been consumed.
func (cr *chunkedReader) done() bool { return cr.state == chunkDone }

// Read returns de-chunked body bytes. Once it has some bytes it returns rather than block for
// more framing, so a streaming body (SSE through the proxy) is passed on as it arrives.
func (cr *chunkedReader) Read(p []byte) (n int, err error) {
	for cr.err == nil {
		switch cr.state {
		case chunkSize:
			if n > 0 && !cr.lineBuffered() {
				return n, nil
			}
			cr.readSize()
		case chunkData:
			if len(p) == 0 {
				return n, nil
			}
			if n > 0 && cr.br.Buffered() == 0 {
				return n, nil
			}
			q := p
			if int64(len(q)) > cr.left {
				q = q[:cr.left]
			}
			k, rerr := cr.br.Read(q)
			n += k
			p = p[k:]
			cr.left -= int64(k)
			if cr.left == 0 {
				cr.state = chunkDataEnd
			}
			if rerr != nil {
				cr.err = truncated(rerr)
			}
		case chunkDataEnd:
			if n > 0 && cr.br.Buffered() < 2 {
				return n, nil
			}
			cr.readDataEnd()
		case chunkTrailer:
			if n > 0 && cr.br.Buffered() < 2 {
				return n, nil
			}
			cr.readTrailer()
		case chunkDone:
			return n, io.EOF
		}
	}
	return n, cr.err
}

// lineBuffered reports whether a whole line is already buffered, so reading it cannot block.
func (cr *chunkedReader) lineBuffered() bool {
	b, _ := cr.br.Peek(cr.br.Buffered())
	for _, c := range b {
		if c == '\n' {
			return true
		}
	}
	return false
}

// readLine returns the next line without its CRLF, refusing bare LF and stray CR. The slice
// points into br's buffer and is valid until the next read.
func (cr *chunkedReader) readLine(what string) ([]byte, bool) {
	line, err := cr.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			cr.err = fmt.Errorf("%w: %s line longer than %d bytes", errMalformedChunked, what, cr.br.Size())
		} else {
			cr.err = truncated(err)
		}
		return nil, false
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		cr.err = fmt.Errorf("%w: %s line ends in a bare LF, CRLF required", errMalformedChunked, what)
		return nil, false
	}
	line = line[:len(line)-2]
	for _, c := range line {
		if c == '\r' {
			cr.err = fmt.Errorf("%w: stray CR in %s line", errMalformedChunked, what)
			return nil, false
		}
	}
	return line, true
}

func (cr *chunkedReader) readSize() {
	line, ok := cr.readLine("chunk size")
	if !ok {
		return
	}
	if len(line) >= maxChunkLineBytes {
		cr.err = fmt.Errorf("%w: chunk size line longer than %d bytes", errMalformedChunked, maxChunkLineBytes)
		return
	}
	var size int64
	i := 0
	for ; i < len(line); i++ {
		d := unhex(line[i])
		if d < 0 {
			break
		}
		if i == 16 || size > math.MaxInt64>>4 {
			cr.err = fmt.Errorf("%w: chunk size %.20q overflows", errMalformedChunked, line)
			return
		}
		size = size<<4 | int64(d)
	}
	if i == 0 {
		cr.err = fmt.Errorf("%w: chunk size %.20q is not hexadecimal", errMalformedChunked, line)
		return
	}
	if i < len(line) && (line[i] != ';' || !validChunkExt(line[i:])) {
		cr.err = fmt.Errorf("%w: bad chunk size or extension in %.40q", errMalformedChunked, line)
		return
	}
	cr.excess += int64(len(line)) + 4 - 16 - 2*size
	cr.excess = max(cr.excess, 0)
	if cr.excess > maxChunkOverhead {
		cr.err = fmt.Errorf("%w: too much chunk framing for the data sent", errMalformedChunked)
		return
	}
	if size == 0 {
		cr.state = chunkTrailer
		return
	}
	cr.left = size
	cr.state = chunkData
}

func (cr *chunkedReader) readDataEnd() {
	b, err := cr.br.Peek(2)
	if err != nil {
		if len(b) == 1 && b[0] != '\r' {
			cr.err = fmt.Errorf("%w: chunk data not followed by CRLF", errMalformedChunked)
		} else {
			cr.err = truncated(err)
		}
		return
	}
	if b[0] != '\r' || b[1] != '\n' {
		cr.err = fmt.Errorf("%w: chunk data not followed by CRLF", errMalformedChunked)
		return
	}
	cr.br.Discard(2)
	cr.state = chunkSize
}

// readTrailer consumes the trailer section and the final CRLF.
func (cr *chunkedReader) readTrailer() {
	total := 0
	for {
		line, ok := cr.readLine("trailer")
		if !ok {
			return
		}
		total += len(line) + 2
		if total > cr.lim.MaxTrailerBytes {
			cr.err = fmt.Errorf("%w: trailer section larger than %d bytes", errMalformedChunked, cr.lim.MaxTrailerBytes)
			return
		}
		if len(line) == 0 {
			break
		}
		if len(cr.tspan)/4 >= cr.lim.MaxTrailerFields {
			cr.err = fmt.Errorf("%w: more than %d trailer fields", errMalformedChunked, cr.lim.MaxTrailerFields)
			return
		}
		name, value, ok := splitField(line)
		if !ok {
			cr.err = fmt.Errorf("%w: malformed trailer field %.40q", errMalformedChunked, line)
			return
		}
		if forbiddenTrailer(name) {
			cr.err = fmt.Errorf("%w: field %q is not allowed in a trailer", errMalformedChunked, name)
			return
		}
		start := len(cr.tbuf)
		cr.tbuf = append(cr.tbuf, name...)
		cr.tbuf = append(cr.tbuf, value...)
		cr.tspan = append(cr.tspan, start, start+len(name), start+len(name), len(cr.tbuf))
	}
	cr.state = chunkDone
	if cr.trailer == nil || len(cr.tspan) == 0 {
		return
	}
	// One allocation for all fields: trailers must outlive the read buffer they came from.
	s := string(cr.tbuf)
	for i := 0; i < len(cr.tspan); i += 4 {
		sp := cr.tspan[i : i+4]
		cr.trailer.Add(s[sp[0]:sp[1]], s[sp[2]:sp[3]])
	}
}

// splitField splits a field line into name and OWS-trimmed value, refusing what RFC 9112
// §5 forbids: an empty or non-token name, whitespace before the colon (which includes a
// leading space, i.e. obs-fold), and control bytes in the value.
func splitField(line []byte) (name, value []byte, ok bool) {
	i := 0
	for i < len(line) && isTokenByte[line[i]] {
		i++
	}
	if i == 0 || i == len(line) || line[i] != ':' {
		return nil, nil, false
	}
	value = trimOWS(line[i+1:])
	if !validValue(value) {
		return nil, nil, false
	}
	return line[:i], value, true
}

// forbiddenTrailer lists fields that must never arrive or leave as trailers (RFC 9110
// §6.5.1): they frame or route the message, so a hop that merges trailers into the header
// could be steered by them.
func forbiddenTrailer[T string | []byte](name T) bool {
	switch len(name) {
	case 4:
		return equalFoldBytes(name, "host")
	case 7:
		return equalFoldBytes(name, "trailer") || equalFoldBytes(name, "upgrade")
	case 10:
		return equalFoldBytes(name, "connection") || equalFoldBytes(name, "keep-alive")
	case 14:
		return equalFoldBytes(name, "content-length")
	case 17:
		return equalFoldBytes(name, "transfer-encoding")
	}
	return false
}

// equalFoldBytes compares name with lower, an already lower-case ASCII string.
func equalFoldBytes[T string | []byte](name T, lower string) bool {
	if len(name) != len(lower) {
		return false
	}
	for i := 0; i < len(lower); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// validChunkExt checks chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ).
func validChunkExt(s []byte) bool {
	i := 0
	ws := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	tok := func() bool {
		j := i
		for i < len(s) && isTokenByte[s[i]] {
			i++
		}
		return i > j
	}
	for {
		ws()
		if i == len(s) {
			return true
		}
		if s[i] != ';' {
			return false
		}
		i++
		ws()
		if !tok() {
			return false
		}
		ws()
		if i == len(s) || s[i] != '=' {
			continue
		}
		i++
		ws()
		if i < len(s) && s[i] == '"' {
			if i = quotedStringEnd(s, i); i < 0 {
				return false
			}
			continue
		}
		if !tok() {
			return false
		}
	}
}

// quotedStringEnd returns the index just past the quoted-string starting at s[i] == '"',
// or -1 when it is malformed or unterminated.
func quotedStringEnd(s []byte, i int) int {
	for i++; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			i++
			if i == len(s) || !isValueByte[s[i]] {
				return -1
			}
		case !isValueByte[c]:
			return -1
		}
	}
	return -1
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// truncated turns an EOF in the middle of a body into io.ErrUnexpectedEOF.
func truncated(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// chunkedWriter encodes a body as chunks into bw. It never flushes: the caller decides when
// bytes go to the wire (the server coalesces the head with the first chunk, and flushes per
// upstream read when streaming).
type chunkedWriter struct {
	bw *bufio.Writer
}

// newChunkedWriter returns an encoder writing to bw.
func newChunkedWriter(bw *bufio.Writer) *chunkedWriter { return &chunkedWriter{bw: bw} }

// Write sends p as one chunk. An empty p writes nothing, since a zero-size chunk would end
// the body.
func (cw *chunkedWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := writeChunkHeader(cw.bw, len(p)); err != nil {
		return 0, err
	}
	n, err := cw.bw.Write(p)
	if err != nil {
		return n, err
	}
	_, err = cw.bw.WriteString("\r\n")
	return n, err
}

// Close writes the last chunk, the trailer fields and the final CRLF. Every trailer field is
// checked first; on an invalid one nothing is written and errInvalidTrailer is returned, so the
// caller can abort the message (close the connection) rather than send a forged line.
func (cw *chunkedWriter) Close(trailer httpx.Header) error {
	for _, f := range trailer {
		if !validTokenString(f.Name) || !validValueString(f.Value) || forbiddenTrailer(f.Name) {
			return fmt.Errorf("%w: %q", errInvalidTrailer, f.Name)
		}
	}
	if _, err := cw.bw.WriteString("0\r\n"); err != nil {
		return err
	}
	for _, f := range trailer {
		cw.bw.WriteString(f.Name)
		cw.bw.WriteString(": ")
		cw.bw.WriteString(f.Value)
		cw.bw.WriteString("\r\n")
	}
	_, err := cw.bw.WriteString("\r\n")
	return err
}

// writeChunkHeader writes "<hex size>\r\n" without allocating, using bw's free space.
func writeChunkHeader(bw *bufio.Writer, n int) error {
	if bw.Available() < 18 {
		if err := bw.Flush(); err != nil {
			return err
		}
	}
	b := strconv.AppendUint(bw.AvailableBuffer(), uint64(n), 16)
	b = append(b, '\r', '\n')
	_, err := bw.Write(b)
	return err
}
