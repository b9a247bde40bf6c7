package proxy

import (
	"crypto/tls"
	"io"
	"net/netip"
	"strings"
	"testing"

	"aya/internal/httpx"
	"aya/internal/upstream"
)

func TestCopyEndToEnd(t *testing.T) {
	src := httpx.Header{
		{Name: "Host", Value: "x"},
		{Name: "connection", Value: "keep-alive, X-Secret , upgrade"},
		{Name: "X-Secret", Value: "1"},
		{Name: "Keep-Alive", Value: "timeout=5"},
		{Name: "Proxy-Authorization", Value: "Basic x"},
		{Name: "Proxy-Connection", Value: "keep-alive"},
		{Name: "TE", Value: "trailers"},
		{Name: "Trailer", Value: "X-T"},
		{Name: "Transfer-Encoding", Value: "chunked"},
		{Name: "Content-Length", Value: "5"},
		{Name: "Upgrade", Value: "websocket"},
		{Name: "X-Keep", Value: "a"},
		{Name: "X-Keep", Value: "b"},
	}
	var dst httpx.Header
	copyEndToEnd(&dst, src)
	want := httpx.Header{{Name: "Host", Value: "x"}, {Name: "X-Keep", Value: "a"}, {Name: "X-Keep", Value: "b"}}
	if len(dst) != len(want) {
		t.Fatalf("got %v, want %v", dst, want)
	}
	for i := range want {
		if dst[i] != want[i] {
			t.Fatalf("got %v, want %v", dst, want)
		}
	}
}

func TestHeaderRulesOrder(t *testing.T) {
	h := httpx.Header{{Name: "X-Debug", Value: "1"}, {Name: "x-env", Value: "dev"}, {Name: "X-Env", Value: "dev2"}}
	r := HeaderRules{
		Remove: []string{"x-debug"},
		Set:    []httpx.Field{{Name: "X-Env", Value: "prod"}},
		Add:    []httpx.Field{{Name: "X-Env", Value: "extra"}},
	}
	r.Apply(&h)
	if h.Has("X-Debug") || h.Count("X-Env") != 2 || h[0].Value != "prod" || h[1].Value != "extra" {
		t.Fatalf("got %v", h)
	}
	if (&HeaderRules{}).Empty() != true || r.Empty() {
		t.Fatal("Empty")
	}
}

func req(peer string, xff ...string) *httpx.Request {
	r := &httpx.Request{RemoteAddr: netip.MustParseAddrPort(peer), Host: "api.example.com"}
	for _, v := range xff {
		r.Header.Add("X-Forwarded-For", v)
	}
	return r
}

func TestClientIP(t *testing.T) {
	trust := Trust{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	cases := []struct {
		name string
		r    *httpx.Request
		tr   Trust
		want string
	}{
		{"no trust list uses the peer", req("1.2.3.4:5", "9.9.9.9"), nil, "1.2.3.4"},
		{"untrusted peer ignores XFF", req("1.2.3.4:5", "9.9.9.9"), trust, "1.2.3.4"},
		{"trusted peer, one hop", req("10.0.0.1:5", "9.9.9.9"), trust, "9.9.9.9"},
		{"skips trusted hops from the right", req("10.0.0.1:5", "6.6.6.6, 9.9.9.9, 10.1.1.1"), trust, "9.9.9.9"},
		{"several fields", req("10.0.0.1:5", "6.6.6.6", "9.9.9.9, 10.2.2.2"), trust, "9.9.9.9"},
		{"all trusted: left-most", req("10.0.0.1:5", "10.3.3.3"), trust, "10.3.3.3"},
		{"garbage stops the walk", req("10.0.0.1:5", "bogus, 9.9.9.9"), trust, "9.9.9.9"},
		{"ipv6 peer", req("[::1]:5", "2001:db8::1"), trust, "2001:db8::1"},
		{"mapped v4", req("[::ffff:1.2.3.4]:5"), nil, "1.2.3.4"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ClientIP(tc.r, tc.tr); got.String() != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// outHeader builds the upstream header for r through a proxy trusting trust.
func outHeader(r *httpx.Request, trust Trust, rules HeaderRules) httpx.Header {
	p := New(Route{Trust: trust, RequestHeaders: rules}, nil, nil)
	var out httpx.Request
	p.buildRequest(&out, r, &upstream.Target{Host: "backend:9000"}, &scratch{})
	return out.Header
}

func TestUpstreamHeader(t *testing.T) {
	r := req("1.2.3.4:5", "7.7.7.7", "8.8.8.8")
	r.ID = "req-1"
	r.Header.Add("Host", "api.example.com")
	r.Header.Add("Forwarded", "for=evil")
	r.Header.Add("X-Forwarded-Proto", "https")
	r.Header.Add("X-Forwarded-Client-Cert", "Subject=forged")
	r.Header.Add("X-Request-ID", "client-chosen")
	r.Header.Add("Expect", "100-continue")
	r.Header.Add("X-Keep", "1")
	out := outHeader(r, nil, HeaderRules{})
	want := map[string]string{
		"Host":              "backend:9000",
		"X-Forwarded-For":   "7.7.7.7, 8.8.8.8, 1.2.3.4",
		"X-Forwarded-Proto": "http",
		"X-Forwarded-Host":  "api.example.com",
		"Forwarded":         "for=1.2.3.4;host=api.example.com;proto=http",
		"X-Request-ID":      "req-1",
		"X-Keep":            "1",
	}
	for k, v := range want {
		if got := out.Get(k); got != v || out.Count(k) != 1 {
			t.Errorf("%s = %q (x%d), want %q once", k, got, out.Count(k), v)
		}
	}
	for _, k := range []string{"Expect", "X-Forwarded-Client-Cert"} {
		if out.Has(k) {
			t.Errorf("%s forwarded from an untrusted peer", k)
		}
	}

	r6 := req("[2001:db8::2]:5")
	r6.Host = "h:8080"
	r6.TLS = &tls.ConnectionState{}
	if got := outHeader(r6, nil, HeaderRules{}).Get("Forwarded"); got != `for="[2001:db8::2]";host="h:8080";proto=https` {
		t.Errorf("Forwarded v6 %q", got)
	}

	rt := req("10.0.0.1:5")
	rt.Header.Add("Forwarded", "for=9.9.9.9")
	rt.Header.Add("X-Forwarded-Proto", "https")
	rt.Header.Add("X-Forwarded-Client-Cert", "Subject=edge")
	out = outHeader(rt, Trust{netip.MustParsePrefix("10.0.0.0/8")}, HeaderRules{})
	if got := out.Get("Forwarded"); !strings.HasPrefix(got, "for=9.9.9.9, for=10.0.0.1") {
		t.Errorf("trusted Forwarded %q", got)
	}
	if out.Get("X-Forwarded-Proto") != "https" || out.Get("X-Forwarded-Client-Cert") != "Subject=edge" {
		t.Errorf("trusted peer's headers dropped: %v", out)
	}

	// Route rules run last and may override what aya set.
	out = outHeader(req("1.2.3.4:5"), nil, HeaderRules{Set: []httpx.Field{{Name: "Host", Value: "override"}}, Remove: []string{"Forwarded"}})
	if out.Get("Host") != "override" || out.Has("Forwarded") {
		t.Errorf("rules not last: %v", out)
	}
}

func TestWebSocketUpgradeForwarded(t *testing.T) {
	r := req("1.2.3.4:5")
	r.Header.Add("Connection", "Upgrade")
	r.Header.Add("Upgrade", "websocket")
	out := outHeader(r, nil, HeaderRules{})
	if out.Get("Upgrade") != "websocket" || out.Get("Connection") != "Upgrade" {
		t.Fatalf("websocket upgrade not forwarded: %v", out)
	}
	r = req("1.2.3.4:5")
	r.Header.Add("Connection", "Upgrade")
	r.Header.Add("Upgrade", "h2c")
	if out := outHeader(r, nil, HeaderRules{}); out.Has("Upgrade") || out.Has("Connection") {
		t.Fatalf("non-websocket upgrade forwarded: %v", out)
	}
}

func TestForwardedValue(t *testing.T) {
	for s, want := range map[string]valueForm{
		"example.com": token, "h:80": quoted, "[::1]:8": quoted, "": omit, `a"b`: omit, "a;b=c": omit, "a b": omit,
	} {
		if got := forwardedValue(s); got != want {
			t.Errorf("%q: %v, want %v", s, got, want)
		}
	}
}

func TestLimitedBody(t *testing.T) {
	l := &limitedBody{r: strings.NewReader("hello"), left: 5}
	if b, err := io.ReadAll(l); err != nil || string(b) != "hello" {
		t.Fatalf("at limit: %q %v", b, err)
	}
	l = &limitedBody{r: strings.NewReader("hello!"), left: 5}
	if _, err := io.ReadAll(l); err != ErrBodyTooLarge {
		t.Fatalf("over limit: %v", err)
	}
}

func BenchmarkBuildRequest(b *testing.B) {
	r := req("1.2.3.4:5", "7.7.7.7")
	r.Method, r.Path, r.Host, r.ID = "GET", "/", "x", "01a214e5-3594-71d2-998e-0420f43d41de"
	r.Header = append(r.Header, httpx.Field{Name: "Host", Value: "x"}, httpx.Field{Name: "User-Agent", Value: "wrk"}, httpx.Field{Name: "Accept", Value: "*/*"})
	p := New(Route{RequestHeaders: HeaderRules{Set: []httpx.Field{{Name: "X-Bench", Value: "1"}}}}, nil, nil)
	t := &upstream.Target{Host: "backend"}
	out := httpx.Request{Header: make(httpx.Header, 0, 32)}
	sc := scratch{buf: make([]byte, 0, 512)}
	b.ReportAllocs()
	for b.Loop() {
		out.Header = out.Header[:0]
		sc.reset()
		p.buildRequest(&out, r, t, &sc)
	}
}

func TestStripPrefix(t *testing.T) {
	cases := []struct{ prefix, path, want string }{
		{"/api", "/api/x/y", "/x/y"},
		{"/api", "/api", "/"},
		{"/api/", "/api/x", "/x"},
		{"/api", "/apiary", "/apiary"},
		{"/api", "/other", "/other"},
		{"/", "/x", "/x"},
	}
	for _, tc := range cases {
		p := New(Route{StripPrefix: tc.prefix}, nil, nil)
		var out httpx.Request
		r := &httpx.Request{Method: "GET", Path: tc.path, RemoteAddr: netip.MustParseAddrPort("1.2.3.4:5")}
		p.buildRequest(&out, r, &upstream.Target{Host: "h"}, &scratch{})
		if out.Path != tc.want {
			t.Errorf("strip %q from %q: %q, want %q", tc.prefix, tc.path, out.Path, tc.want)
		}
	}
}
