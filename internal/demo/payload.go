package demo

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// patternPeriod is prime so that a proxy that drops or repeats a power-of-two sized buffer
// produces different bytes, not a shifted copy of the same ones.
const patternPeriod = 251

const patternAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Pattern returns n deterministic printable bytes: byte i is
// patternAlphabet[(i%251)%62]. /bytes, /chunked and /trailers send it, so a test can
// recompute exactly what a proxy must deliver.
func Pattern(n int64) io.Reader {
	return io.LimitReader(&patternReader{}, n)
}

type patternReader struct{ off int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = patternAlphabet[((p.off+int64(i))%patternPeriod)%int64(len(patternAlphabet))]
	}
	p.off += int64(len(b))
	return len(b), nil
}

func (s *echoServer) bytes(w http.ResponseWriter, q url.Values) error {
	n, err := intParam(q, "n", 1024, 0, maxDownload)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, Pattern(n))
	return nil
}

func (s *echoServer) upload(w http.ResponseWriter, r *http.Request) {
	h := sha256.New()
	n, err := io.Copy(h, r.Body)
	if err != nil {
		s.replyError(w, http.StatusBadRequest, fmt.Errorf("read upload body after %d bytes: %w", n, err))
		return
	}
	writeJSON(w, http.StatusOK, UploadReply{Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))})
}

// trailers sends the checksum after the body, which forces chunked framing on HTTP/1.1 and a
// trailing HEADERS frame on HTTP/2: both must survive a proxy.
func (s *echoServer) trailers(w http.ResponseWriter, q url.Values) error {
	n, err := intParam(q, "n", 64, 0, maxChunk)
	if err != nil {
		return err
	}
	w.Header().Set("Trailer", "X-Checksum")
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	h := sha256.New()
	_, _ = io.Copy(io.MultiWriter(w, h), Pattern(n))
	w.Header().Set("X-Checksum", hex.EncodeToString(h.Sum(nil)))
	return nil
}
