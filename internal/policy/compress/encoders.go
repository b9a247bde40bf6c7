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

// newEncoderPool makes a pool that creates encoders on demand: none exists until a response
// needs one (a zstd encoder takes 1.4 MB up front, and a config may have many routes).
func newEncoderPool(c coding, l Level) *encoderPool {
	level := nativeLevel(c, l)
	p := &encoderPool{}
	p.pool.New = func() any {
		pe := &pooledEncoder{}
		switch c {
		case brotliCoding:
			pe.enc = brotli.NewWriterLevel(&pe.sink, level)
		case zstdCoding:
			// Synchronous (no goroutines per encoder); a 1 MB window bounds the memory the
			// client's decoder needs, and responses rarely gain from a longer one.
			enc, err := zstd.NewWriter(&pe.sink, zstd.WithEncoderLevel(zstd.EncoderLevel(level)),
				zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20), zstd.WithLowerEncoderMem(true))
			if err != nil {
				// The options are constants, covered for every level by TestEveryLevel.
				panic(fmt.Sprintf("compress: zstd options rejected: %v", err))
			}
			pe.enc = enc
		default:
			// Only an out-of-range level fails, and nativeLevel returns 1 to 9.
			enc, _ := gzip.NewWriterLevel(&pe.sink, level)
			pe.enc = enc
		}
		return pe
	}
	return p
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
