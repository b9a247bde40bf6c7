package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http/httputil"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"aya/internal/httpx"
)

func TestChunkedReaderAccepts(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		body    string
		trailer httpx.Header
		rest    string // bytes left for the next message
	}{
		{name: "empty", in: "0\r\n\r\n", body: ""},
		{name: "one chunk", in: "5\r\nhello\r\n0\r\n\r\n", body: "hello"},
		{name: "two chunks", in: "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT", body: "hello world", rest: "NEXT"},
		{name: "upper hex", in: "A\r\n0123456789\r\n0\r\n\r\n", body: "0123456789"},
		{name: "leading zeros", in: "0005\r\nhello\r\n0000\r\n\r\n", body: "hello"},
		{name: "extension", in: "5;name\r\nhello\r\n0;last=yes\r\n\r\n", body: "hello"},
		{name: "quoted extension", in: "5;a=\"x \\\" y\";b=c\r\nhello\r\n0\r\n\r\n", body: "hello"},
		{name: "extension BWS", in: "5; a = b ;c\r\nhello\r\n0\r\n\r\n", body: "hello"},
		{
			name: "trailers", in: "5\r\nhello\r\n0\r\nX-Sum: abc \r\nGrpc-Status:0\r\n\r\nNEXT", body: "hello",
			trailer: httpx.Header{{Name: "X-Sum", Value: "abc"}, {Name: "Grpc-Status", Value: "0"}}, rest: "NEXT",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tt.in))
			var tr httpx.Header
			cr := newChunkedReader(br, &tr, defaultChunkLimits)
			got, err := io.ReadAll(cr)
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
			if string(got) != tt.body {
				t.Errorf("body = %q, want %q", got, tt.body)
			}
			if !cr.done() {
				t.Error("done() = false after EOF")
			}
			if len(tr) != len(tt.trailer) {
				t.Fatalf("trailer = %q, want %q", tr, tt.trailer)
			}
			for i := range tr {
				if tr[i] != tt.trailer[i] {
					t.Errorf("trailer[%d] = %q, want %q", i, tr[i], tt.trailer[i])
				}
			}
			rest, _ := io.ReadAll(br)
			if string(rest) != tt.rest {
				t.Errorf("rest = %q, want %q", rest, tt.rest)
			}
		})
	}
}

func TestChunkedReaderRejects(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		truncated bool // io.ErrUnexpectedEOF rather than errMalformedChunked
	}{
		{name: "LF after last chunk", in: "0\n\n"},
		{name: "LF after final CRLF-less trailer", in: "0\r\n\n"},
		{name: "LF after size", in: "5\nhello\r\n0\r\n\r\n"},
		{name: "LF after data", in: "5\r\nhello\n0\r\n\r\n"},
		{name: "no CRLF after data", in: "5\r\nhelloX\r\n0\r\n\r\n"},
		{name: "stray CR in size line", in: "5\r\r\nhello\r\n0\r\n\r\n"},
		{name: "empty size", in: "\r\nhello\r\n0\r\n\r\n"},
		{name: "non-hex size", in: "g\r\nhello\r\n0\r\n\r\n"},
		{name: "0x prefix", in: "0x5\r\nhello\r\n0\r\n\r\n"},
		{name: "negative", in: "-5\r\nhello\r\n0\r\n\r\n"},
		{name: "leading space", in: " 5\r\nhello\r\n0\r\n\r\n"},
		{name: "trailing space", in: "5 \r\nhello\r\n0\r\n\r\n"},
		{name: "space before extension", in: "5 ;a\r\nhello\r\n0\r\n\r\n"},
		{name: "17 hex digits", in: "00000000000000005\r\nhello\r\n0\r\n\r\n"},
		{name: "overflow int64", in: "8000000000000000\r\n"},
		{name: "bad extension", in: "5;\r\nhello\r\n0\r\n\r\n"},
		{name: "extension control byte", in: "5;a\x01\r\nhello\r\n0\r\n\r\n"},
		{name: "unterminated quoted extension", in: "5;a=\"x\r\nhello\r\n0\r\n\r\n"},
		{name: "trailer LF", in: "0\r\nX: y\n\r\n"},
		{name: "trailer space before colon", in: "0\r\nX : y\r\n\r\n"},
		{name: "trailer obs-fold", in: "0\r\nX: y\r\n z\r\n\r\n"},
		{name: "trailer no colon", in: "0\r\nXy\r\n\r\n"},
		{name: "trailer control byte", in: "0\r\nX: a\x00b\r\n\r\n"},
		{name: "trailer content-length", in: "0\r\nContent-Length: 5\r\n\r\n"},
		{name: "trailer transfer-encoding", in: "0\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{name: "trailer host", in: "0\r\nhost: evil\r\n\r\n"},
		{name: "line too long", in: "5;a=" + strings.Repeat("b", 5000) + "\r\nhello\r\n0\r\n\r\n"},
		{name: "too much overhead", in: strings.Repeat("1;"+strings.Repeat("x", 1000)+"\r\nx\r\n", 20) + "0\r\n\r\n"},
		{name: "eof in data", in: "5\r\nhel", truncated: true},
		{name: "eof before size", in: "5\r\nhello\r\n", truncated: true},
		{name: "eof in trailer", in: "0\r\n", truncated: true},
		{name: "eof after data CR", in: "5\r\nhello\r", truncated: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tt.in), 8192)
			cr := newChunkedReader(br, nil, defaultChunkLimits)
			_, err := io.ReadAll(cr)
			if err == nil {
				t.Fatal("accepted")
			}
			if tt.truncated {
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
				}
				return
			}
			if !errors.Is(err, errMalformedChunked) {
				t.Fatalf("err = %v, want errMalformedChunked", err)
			}
			if cr.done() {
				t.Error("done() after an error")
			}
		})
	}
}

func TestChunkedReaderTrailerLimits(t *testing.T) {
	many := "0\r\n" + strings.Repeat("X: y\r\n", 4) + "\r\n"
	cr := newChunkedReader(bufio.NewReader(strings.NewReader(many)), nil, chunkLimits{MaxTrailerBytes: 1000, MaxTrailerFields: 3})
	if _, err := io.ReadAll(cr); !errors.Is(err, errMalformedChunked) {
		t.Errorf("4 fields with limit 3: err = %v", err)
	}
	cr = newChunkedReader(bufio.NewReader(strings.NewReader(many)), nil, chunkLimits{MaxTrailerBytes: 20, MaxTrailerFields: 10})
	if _, err := io.ReadAll(cr); !errors.Is(err, errMalformedChunked) {
		t.Errorf("26 bytes with limit 20: err = %v", err)
	}
}

// TestChunkedReaderReuse checks reset keeps no state from the previous body.
func TestChunkedReaderReuse(t *testing.T) {
	br := bufio.NewReader(strings.NewReader("3\r\nabc\r\n0\r\nA: 1\r\n\r\n2\r\nxy\r\n0\r\n\r\n"))
	var cr chunkedReader
	var tr httpx.Header
	cr.reset(br, &tr, defaultChunkLimits)
	if b, err := io.ReadAll(&cr); err != nil || string(b) != "abc" || len(tr) != 1 {
		t.Fatalf("first body %q, %v, trailer %q", b, err, tr)
	}
	tr = nil
	cr.reset(br, &tr, defaultChunkLimits)
	if b, err := io.ReadAll(&cr); err != nil || string(b) != "xy" || len(tr) != 0 {
		t.Fatalf("second body %q, %v, trailer %q", b, err, tr)
	}
}

// TestChunkedReaderStreams checks a chunk is returned as soon as it arrives, without waiting
// for the next chunk's header: the proxy relies on this for server-sent events.
func TestChunkedReaderStreams(t *testing.T) {
	pr, pw := io.Pipe()
	defer pr.Close()
	go func() {
		pw.Write([]byte("5\r\nhello\r\n"))
		time.Sleep(time.Second)
		pw.Write([]byte("0\r\n\r\n"))
		pw.Close()
	}()
	cr := newChunkedReader(bufio.NewReader(pr), nil, defaultChunkLimits)
	buf := make([]byte, 64)
	start := time.Now()
	n, err := cr.Read(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	if d := time.Since(start); d > 700*time.Millisecond {
		t.Errorf("first chunk took %v: the reader waited for the next chunk", d)
	}
	if n, err = cr.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("second Read = %d, %v; want 0, EOF", n, err)
	}
}

func TestChunkedWriter(t *testing.T) {
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	cw := newChunkedWriter(bw)
	for _, s := range []string{"hello", "", strings.Repeat("x", 5000), " world"} {
		if n, err := cw.Write([]byte(s)); err != nil || n != len(s) {
			t.Fatalf("Write(%d bytes) = %d, %v", len(s), n, err)
		}
	}
	if err := cw.Close(httpx.Header{{Name: "X-Sum", Value: "42"}}); err != nil {
		t.Fatal(err)
	}
	bw.Flush()
	wire := out.String()
	if !strings.HasPrefix(wire, "5\r\nhello\r\n1388\r\n") || !strings.HasSuffix(wire, "6\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n") {
		t.Errorf("wire = %.60q...%q", wire, wire[len(wire)-40:])
	}

	// Our own decoder and net/http's agree on what we wrote.
	var tr httpx.Header
	ours, err := io.ReadAll(newChunkedReader(bufio.NewReader(strings.NewReader(wire)), &tr, defaultChunkLimits))
	if err != nil || len(ours) != 5+5000+6 || tr.Get("x-sum") != "42" {
		t.Fatalf("own decoder: %d bytes, %v, trailer %q", len(ours), err, tr)
	}
	theirs, err := io.ReadAll(httputil.NewChunkedReader(strings.NewReader(wire)))
	if err != nil || !bytes.Equal(ours, theirs) {
		t.Fatalf("net/http decoder: %d bytes, %v", len(theirs), err)
	}
}

func TestChunkedWriterRejectsBadTrailer(t *testing.T) {
	for _, f := range []httpx.Field{
		{Name: "X-Bad", Value: "a\r\nInjected: 1"},
		{Name: "Bad Name", Value: "v"},
		{Name: "", Value: "v"},
		{Name: "Content-Length", Value: "5"},
	} {
		var out bytes.Buffer
		bw := bufio.NewWriter(&out)
		err := newChunkedWriter(bw).Close(httpx.Header{f})
		bw.Flush()
		if !errors.Is(err, errInvalidTrailer) || out.Len() != 0 {
			t.Errorf("Close(%q) = %v, wrote %q", f, err, out.String())
		}
	}
}

func BenchmarkChunkedReader(b *testing.B) {
	body := strings.Repeat("4\r\ndata\r\n", 64) + "0\r\n\r\n"
	sr := strings.NewReader(body)
	br := bufio.NewReader(sr)
	var cr chunkedReader
	buf := make([]byte, 512)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		sr.Reset(body)
		br.Reset(sr)
		cr.reset(br, nil, defaultChunkLimits)
		for {
			if _, err := cr.Read(buf); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
		}
	}
}

func BenchmarkChunkedWriter(b *testing.B) {
	bw := bufio.NewWriter(io.Discard)
	cw := chunkedWriter{bw: bw}
	p := []byte(strings.Repeat("x", 256))
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		cw.Write(p)
	}
}

// FuzzChunkedReader: whatever the decoder accepts, net/http's decoder accepts with the same
// bytes, and the decoder gives the same result however the input is split into reads.
func FuzzChunkedReader(f *testing.F) {
	for _, s := range []string{
		"0\r\n\r\n", "5\r\nhello\r\n0\r\n\r\n", "3;a=b\r\nabc\r\n0\r\nX: y\r\n\r\nrest",
		"0\n\n", "5\nhello\n0\n\n", "5 \r\nhello\r\n0\r\n\r\n", "ffffffffffffffff\r\n",
		"1;" + strings.Repeat("a", 100) + "\r\nx\r\n0\r\n\r\n", "0\r\nContent-Length: 1\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		decode := func(r io.Reader) (string, httpx.Header, string, error) {
			br := bufio.NewReaderSize(r, 16)
			var tr httpx.Header
			body, err := io.ReadAll(newChunkedReader(br, &tr, defaultChunkLimits))
			rest, _ := io.ReadAll(br)
			return string(body), tr, string(rest), err
		}
		body, tr, rest, err := decode(bytes.NewReader(in))
		body1, tr1, rest1, err1 := decode(iotest.OneByteReader(bytes.NewReader(in)))
		if (err == nil) != (err1 == nil) || body != body1 || rest != rest1 || len(tr) != len(tr1) {
			t.Fatalf("whole: %q %q %q %v; one byte at a time: %q %q %q %v", body, tr, rest, err, body1, tr1, rest1, err1)
		}
		if err != nil {
			return
		}
		theirs, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(in)))
		if err != nil || string(theirs) != body {
			t.Fatalf("net/http: %q, %v; ours %q: %q", theirs, err, body, in)
		}
	})
}
