package ipfilter

import (
	"encoding/json"
	"net/netip"
	"testing"

	"aya/internal/httpx"
)

func prefixes(ss ...string) []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range ss {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}

func TestAllowed(t *testing.T) {
	tests := []struct {
		name        string
		allow, deny []string
		ip          string
		want        bool
	}{
		{"nothing listed", nil, nil, "1.2.3.4", true},
		{"deny only, listed", nil, []string{"10.0.0.0/8"}, "10.1.2.3", false},
		{"deny only, not listed", nil, []string{"10.0.0.0/8"}, "11.1.2.3", true},
		{"allow only, listed", []string{"192.168.0.0/16"}, nil, "192.168.4.5", true},
		{"allow only, not listed", []string{"192.168.0.0/16"}, nil, "192.169.0.1", false},
		{"narrow deny inside allow", []string{"10.0.0.0/8"}, []string{"10.1.0.0/16"}, "10.1.0.9", false},
		{"rest of the allow", []string{"10.0.0.0/8"}, []string{"10.1.0.0/16"}, "10.2.0.9", true},
		{"narrow allow inside deny", []string{"10.1.2.3/32"}, []string{"10.0.0.0/8"}, "10.1.2.3", true},
		{"deny around the narrow allow", []string{"10.1.2.3/32"}, []string{"10.0.0.0/8"}, "10.1.2.4", false},
		{"same prefix: deny wins", []string{"10.0.0.0/8"}, []string{"10.0.0.0/8"}, "10.0.0.1", false},
		{"allow everything but one", []string{"0.0.0.0/0"}, []string{"203.0.113.7/32"}, "203.0.113.7", false},
		{"allow everything but one, others", []string{"0.0.0.0/0"}, []string{"203.0.113.7/32"}, "203.0.113.8", true},
		{"v6 allow", []string{"2001:db8::/32"}, nil, "2001:db8::1", true},
		{"v6 not allowed", []string{"2001:db8::/32"}, nil, "2001:db9::1", false},
		{"v4 list does not cover v6", []string{"0.0.0.0/0"}, nil, "::1", false},
		{"v4-mapped client", []string{"127.0.0.0/8"}, nil, "::ffff:127.0.0.1", true},
		{"v4-mapped prefix", nil, []string{"::ffff:10.0.0.0/104"}, "10.9.9.9", false},
		{"host bits ignored", []string{"10.1.2.3/8"}, nil, "10.200.0.1", true},
		{"loopback v6", nil, []string{"::1/128"}, "::1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allowP, denyP := prefixes(tt.allow...), prefixes(tt.deny...)
			f := New(Options{Allow: allowP, Deny: denyP})
			if got := f.Allowed(netip.MustParseAddr(tt.ip)); got != tt.want {
				t.Errorf("Allowed(%s) = %v, want %v", tt.ip, got, tt.want)
			}
		})
	}
}

func TestInvalidClientIP(t *testing.T) {
	if !New(Options{Deny: prefixes("10.0.0.0/8")}).Allowed(netip.Addr{}) {
		t.Error("unknown client refused by a deny list")
	}
	if New(Options{Allow: prefixes("10.0.0.0/8")}).Allowed(netip.Addr{}) {
		t.Error("unknown client admitted by an allow list")
	}
}

type rec struct {
	h      httpx.Header
	status int
	body   []byte
}

func (r *rec) Header() *httpx.Header { return &r.h }
func (r *rec) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}
func (r *rec) Write(p []byte) (int, error) { r.body = append(r.body, p...); return len(p), nil }
func (r *rec) Flush() error                { return nil }

func TestMiddleware(t *testing.T) {
	f := New(Options{Allow: prefixes("127.0.0.0/8")})
	h := f.Middleware()(httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) { w.WriteHeader(200) }))

	w := &rec{}
	h.ServeHTTPX(w, &httpx.Request{ClientIP: netip.MustParseAddr("127.0.0.1")})
	if w.status != 200 {
		t.Fatalf("allowed client got %d", w.status)
	}
	w = &rec{}
	h.ServeHTTPX(w, &httpx.Request{ClientIP: netip.MustParseAddr("8.8.8.8"), ID: "req-1"})
	var body struct {
		Error struct {
			Code      int    `json:"code"`
			RequestID string `json:"request_id"`
		} `json:"error"`
	}
	if w.status != 403 || json.Unmarshal(w.body, &body) != nil || body.Error.Code != 403 || body.Error.RequestID != "req-1" {
		t.Fatalf("refused client got %d %s", w.status, w.body)
	}
	if w.h.Get("Content-Type") != "application/json" {
		t.Errorf("content type %q", w.h.Get("Content-Type"))
	}
}

func BenchmarkAllowed(b *testing.B) {
	var allowL, denyL []netip.Prefix
	for i := range 200 {
		allowL = append(allowL, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 16))
		denyL = append(denyL, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 7, 0}), 24))
	}
	allowL = append(allowL, netip.MustParsePrefix("2001:db8::/32"))
	f := New(Options{Allow: allowL, Deny: denyL})
	for _, ip := range []string{"10.42.1.1", "10.42.7.9", "192.0.2.1", "2001:db8::42"} {
		a := netip.MustParseAddr(ip)
		b.Run(ip, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f.Allowed(a)
			}
		})
	}
}
