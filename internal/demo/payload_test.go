package demo

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"testing"
)

func patternSum(t *testing.T, n int64) string {
	t.Helper()
	h := sha256.New()
	if _, err := io.Copy(h, Pattern(n)); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestPattern(t *testing.T) {
	b, err := io.ReadAll(Pattern(600))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 600 || string(b[:12]) != "0123456789AB" {
		t.Fatalf("pattern starts %q (len %d)", b[:12], len(b))
	}
	if !bytes.Equal(b[:patternPeriod], b[patternPeriod:2*patternPeriod]) || bytes.Equal(b[:256], b[256:512]) {
		t.Error("pattern period is not 251")
	}
	// Reading in odd-sized pieces must give the same bytes as one read.
	var pieces bytes.Buffer
	r := Pattern(600)
	buf := make([]byte, 7)
	for {
		n, err := r.Read(buf)
		pieces.Write(buf[:n])
		if err == io.EOF {
			break
		}
	}
	if !bytes.Equal(pieces.Bytes(), b) {
		t.Error("piecewise read differs")
	}
}

func TestBytes(t *testing.T) {
	base := startEcho(t, EchoOptions{Name: "d"})
	for _, n := range []int64{0, 1, 1 << 20} {
		t.Run(strconv.FormatInt(n, 10), func(t *testing.T) {
			resp, body := get(t, http.DefaultClient, base+"/bytes?n="+strconv.FormatInt(n, 10))
			if resp.ContentLength != n || int64(len(body)) != n {
				t.Fatalf("Content-Length %d, body %d, want %d", resp.ContentLength, len(body), n)
			}
			sum := sha256.Sum256(body)
			if hex.EncodeToString(sum[:]) != patternSum(t, n) {
				t.Error("body is not the pattern")
			}
		})
	}
}

func TestUpload(t *testing.T) {
	base := startEcho(t, EchoOptions{Name: "u"})
	const n = 3<<20 + 17
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, base+"/upload", Pattern(n))
	if err != nil {
		t.Fatal(err)
	}
	resp, body := do(t, http.DefaultClient, req)
	got := decode[UploadReply](t, body)
	if resp.StatusCode != 200 || got.Bytes != n || got.SHA256 != patternSum(t, n) {
		t.Errorf("status %d reply %+v", resp.StatusCode, got)
	}
}

func TestTrailers(t *testing.T) {
	base := startEcho(t, EchoOptions{Name: "t"})
	resp, body := get(t, http.DefaultClient, base+"/trailers?n=1000")
	if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
		t.Errorf("transfer encoding %v", resp.TransferEncoding)
	}
	if len(body) != 1000 {
		t.Errorf("body %d bytes", len(body))
	}
	if got := resp.Trailer.Get("X-Checksum"); got != patternSum(t, 1000) {
		t.Errorf("X-Checksum trailer %q", got)
	}
}
