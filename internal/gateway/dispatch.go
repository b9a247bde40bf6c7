package gateway

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"aya/internal/httpx"
	"aya/internal/proxy"
)

// dispatcher is the handler every listener serves: it loads the current snapshot, settles the
// client IP and request id, matches a route and runs the route's handler.
type dispatcher struct {
	snap *atomic.Pointer[snapshot]
	ids  *idGen
}

// reqState is per-request memory the dispatcher needs beyond the request itself (the request
// id's bytes), pooled so the id costs no allocation.
type reqState struct {
	id [36]byte
}

var reqStates = sync.Pool{New: func() any { return new(reqState) }}

func (d *dispatcher) ServeHTTPX(w httpx.ResponseWriter, r *httpx.Request) {
	s := d.snap.Load()
	r.ClientIP = proxy.ClientIP(r, s.trust[r.Listener])

	st := reqStates.Get().(*reqState)
	defer reqStates.Put(st)
	if id := r.Header.Get("X-Request-ID"); validRequestID(id) {
		r.ID = id
	} else {
		d.ids.next(&st.id)
		r.ID = unsafe.String(&st.id[0], len(st.id))
	}

	i, ok := s.table.Match(r)
	if !ok {
		proxy.WriteError(w, r, 404, "no route matches "+r.Method+" "+r.Host+r.Path)
		return
	}
	s.handlers[i].ServeHTTPX(w, r)
}

// validRequestID accepts incoming ids that are safe to log and forward: 1–128 visible ASCII
// characters from a conservative set.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == ':' || c == '+' || c == '/' || c == '=':
		default:
			return false
		}
	}
	return true
}

// idGen makes UUIDv7 request ids: 48 bits of Unix milliseconds, then a per-process random base
// plus a counter. Sortable by time like any v7, unique within the process without a random read
// per request.
type idGen struct {
	base [10]byte
	ctr  atomic.Uint64
}

func newIDGen() *idGen {
	g := &idGen{}
	rand.Read(g.base[:])
	return g
}

const hexDigits = "0123456789abcdef"

func (g *idGen) next(dst *[36]byte) {
	var u [16]byte
	ms := uint64(time.Now().UnixMilli())
	u[0], u[1], u[2], u[3], u[4], u[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	copy(u[6:], g.base[:])
	n := g.ctr.Add(1)
	tail := binary.BigEndian.Uint64(u[8:]) + n
	binary.BigEndian.PutUint64(u[8:], tail)
	u[6] = 0x70 | (u[6] & 0x0f) // version 7
	u[8] = 0x80 | (u[8] & 0x3f) // RFC 9562 variant
	j := 0
	for i, b := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst[j] = '-'
			j++
		}
		dst[j] = hexDigits[b>>4]
		dst[j+1] = hexDigits[b&0x0f]
		j += 2
	}
}
