package compress

import (
	"fmt"
	"io"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"aya/internal/httpx"
)

// Level trades CPU for ratio, the same way for every algorithm.
type Level int8

// Levels, mapped per algorithm by levels below.
const (
	LevelFastest Level = iota
	LevelDefault
	LevelBetter
	LevelBest
)

// ParseLevel reads a level's config name.
func ParseLevel(s string) (Level, error) {
	switch s {
	case "fastest":
		return LevelFastest, nil
	case "", "default":
		return LevelDefault, nil
	case "better":
		return LevelBetter, nil
	case "best":
		return LevelBest, nil
	}
	return 0, fmt.Errorf("unknown level %q: use fastest, default, better or best", s)
}

// nativeLevel maps a Level to an algorithm's own scale. Default sits where on-the-fly
// compression of dynamic responses pays off (brotli 4 and gzip 5 compress about as well as
// gzip 9 at a fraction of its CPU); best is for routes whose bodies are few and cacheable.
func nativeLevel(c coding, l Level) int {
	switch c {
	case brotliCoding:
		return [...]int{1, 4, 6, 11}[l]
	case zstdCoding:
		return int([...]zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault, zstd.SpeedBetterCompression, zstd.SpeedBestCompression}[l])
	default:
		return [...]int{1, 5, 7, 9}[l]
	}
}

// encoder is what gzip.Writer, zstd.Encoder and brotli.Writer have in common.
type encoder interface {
	io.Writer
	Flush() error
	Close() error
	Reset(w io.Writer)
}

// pooledEncoder is an encoder kept across responses. It always writes to its sink, whose
// target changes per response, so a pooled encoder never holds on to a finished response.
type pooledEncoder struct {
	enc  encoder
	sink sink
}

type sink struct{ w httpx.ResponseWriter }

func (s *sink) Write(p []byte) (int, error) { return s.w.Write(p) }

// encoderPool hands out encoders of one algorithm at one level. Encoders are large (tens to
// hundreds of KB of tables), so reuse is what keeps steady-state allocation near zero.
type encoderPool struct {
	pool sync.Pool
}

func newEncoderPool(c coding, l Level) (*encoderPool, error) {
	level := nativeLevel(c, l)
	mk := func(s *sink) (encoder, error) {
		switch c {
		case brotliCoding:
			return brotli.NewWriterLevel(s, level), nil
		case zstdCoding:
			// One goroutine-free encoder per response; a 1 MB window bounds the memory a pooled
			// encoder (and the client's decoder) needs, which responses rarely benefit beyond.
			return zstd.NewWriter(s, zstd.WithEncoderLevel(zstd.EncoderLevel(level)),
				zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20), zstd.WithLowerEncoderMem(true))
		default:
			return gzip.NewWriterLevel(s, level)
		}
	}
	first := &pooledEncoder{}
	enc, err := mk(&first.sink)
	if err != nil {
		return nil, fmt.Errorf("%s encoder: %w", c, err)
	}
	first.enc = enc
	p := &encoderPool{}
	p.pool.New = func() any {
		pe := &pooledEncoder{}
		// mk succeeded once with these options; it cannot fail later.
		pe.enc, _ = mk(&pe.sink)
		return pe
	}
	p.pool.Put(first)
	return p, nil
}

// get returns an encoder that writes to w, starting a fresh stream.
func (p *encoderPool) get(w httpx.ResponseWriter) *pooledEncoder {
	pe := p.pool.Get().(*pooledEncoder)
	pe.sink.w = w
	pe.enc.Reset(&pe.sink)
	return pe
}

// put returns a closed encoder.
func (p *encoderPool) put(pe *pooledEncoder) {
	pe.sink.w = nil
	p.pool.Put(pe)
}
