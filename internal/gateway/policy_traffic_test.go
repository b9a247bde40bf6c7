package gateway

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"aya/internal/config"
	"aya/internal/httpx"
)

// writeCountryDB writes a MaxMind country database mapping each CIDR to an ISO code.
func writeCountryDB(t testing.TB, path string, nets map[string]string) {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "Test-Country", RecordSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, code := range nets {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Insert(n, mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(code)}}); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// namedBackend answers with its name and counts its requests.
func namedBackend(t testing.TB, name string, hits *atomic.Int64) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		hits.Add(1)
		w.Write([]byte(name))
	}))
	t.Cleanup(srv.Close)
	return srv
}

type trafficRecorder struct {
	h      httpx.Header
	status int
	body   bytes.Buffer
}

func (w *trafficRecorder) Header() *httpx.Header { return &w.h }
func (w *trafficRecorder) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}
func (w *trafficRecorder) Write(p []byte) (int, error) { w.WriteHeader(200); return w.body.Write(p) }
func (w *trafficRecorder) Flush() error                { return nil }

func trafficRequest(path, peer string, hdr ...string) *httpx.Request {
	r := &httpx.Request{Method: "GET", Target: path, Path: path, Host: "example.com", Proto: "HTTP/1.1",
		ProtoMajor: 1, ProtoMinor: 1, Listener: "web", Body: httpx.NoBody}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	r.RemoteAddr = netip.AddrPortFrom(netip.MustParseAddr(peer), 40000)
	return r
}

func TestTrafficPolicies(t *testing.T) {
	var v1, v2, shadow, de atomic.Int64
	dir := t.TempDir()
	writeCountryDB(t, filepath.Join(dir, "country.mmdb"), map[string]string{"81.2.69.0/24": "DE"})
	text := `listeners: [{name: web, address: "127.0.0.1:0", trusted_proxies: [127.0.0.1]}]
geoip: {database: country.mmdb}
upstreams:
  - {name: v1, targets: [{url: "` + namedBackend(t, "v1", &v1).URL + `"}]}
  - {name: v2, targets: [{url: "` + namedBackend(t, "v2", &v2).URL + `"}]}
  - {name: shadow, targets: [{url: "` + namedBackend(t, "shadow", &shadow).URL + `"}]}
  - {name: de, targets: [{url: "` + namedBackend(t, "de", &de).URL + `"}]}
routes:
  - name: germany
    match: {path: "/*", country: [DE]}
    upstream: de
  - name: office
    match: {path: "/*", client_ip: [10.0.0.0/8]}
    upstream: v2
  - name: api
    match: {path: "/*"}
    policies:
      - mirror: {upstream: shadow, percent: 100%}
      - canary: {upstreams: [{name: v2, weight: 0%}], header: {name: X-Canary, value: "on"}, expose: true}
    upstream: v1
`
	cfg, err := config.Parse(filepath.Join(dir, "aya.yaml"), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer g.snap.Load().obs.closeNotIn(nil)

	for _, tc := range []struct {
		name, peer string
		hdr        []string
		want       string
		canary     string
	}{
		{"weight 0% stays on the primary", "192.0.2.1", nil, "v1", "v1"},
		{"the header forces the canary", "192.0.2.1", []string{"X-Canary", "on"}, "v2", "v2"},
		{"client_ip", "10.1.2.3", nil, "v2", ""},
		{"country of the forwarded client from a trusted proxy", "127.0.0.1", []string{"X-Forwarded-For", "81.2.69.7"}, "de", ""},
		{"X-Forwarded-For from an untrusted peer is ignored", "192.0.2.9", []string{"X-Forwarded-For", "81.2.69.7"}, "v1", "v1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &trafficRecorder{}
			g.disp.ServeHTTPX(w, trafficRequest("/x", tc.peer, tc.hdr...))
			if w.body.String() != tc.want {
				t.Errorf("served by %q (status %d), want %s", w.body.String(), w.status, tc.want)
			}
			if got := w.h.Get("X-Aya-Canary"); got != tc.canary {
				t.Errorf("X-Aya-Canary = %q, want %q", got, tc.canary)
			}
		})
	}

	// Every request on the api route was mirrored (3 of them); the copies finish on their own.
	deadline := time.Now().Add(10 * time.Second)
	for shadow.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if shadow.Load() != 3 {
		t.Errorf("shadow got %d copies, want 3", shadow.Load())
	}

	mfs, err := g.Metrics().Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, mf := range mfs {
		if n := mf.GetName(); n != "aya_canary_requests_total" && n != "aya_mirror_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var l []string
			for _, lp := range m.GetLabel() {
				l = append(l, lp.GetName()+"="+lp.GetValue())
			}
			if v := m.GetCounter().GetValue(); v > 0 {
				lines = append(lines, mf.GetName()+"{"+strings.Join(l, ",")+"}")
			}
		}
	}
	got := strings.Join(lines, "\n")
	for _, want := range []string{
		"aya_canary_requests_total{reason=weight,route=api,upstream=v1}",
		"aya_canary_requests_total{reason=header,route=api,upstream=v2}",
		"aya_mirror_requests_total{result=sent,route=api,upstream=shadow}",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("metrics lack %s; have:\n%s", want, got)
		}
	}

	// A retired snapshot's mirrors take no more copies; its clients are still served.
	snap := g.snap.Load()
	snap.closePolicies()
	w := &trafficRecorder{}
	g.disp.ServeHTTPX(w, trafficRequest("/x", "192.0.2.1"))
	if m := snap.traffic.mirrors[0].mirror.Stats(); w.body.String() != "v1" || m.Dropped != 1 || m.Sent != 3 {
		t.Errorf("after close: served by %q, mirror %+v", w.body.String(), m)
	}
}

func TestGeoDatabaseErrors(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "country.mmdb")
	if err := os.WriteFile(db, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(filepath.Join(dir, "aya.yaml"), []byte(`listeners: [{name: web, address: "127.0.0.1:0"}]
upstreams: [{name: u, targets: [{url: "http://127.0.0.1:9"}]}]
geoip: {database: country.mmdb}
routes: [{name: de, match: {country: [DE]}, upstream: u}]
`))
	if err != nil {
		t.Fatal(err)
	}
	err = Check(cfg)
	if err == nil || !strings.Contains(err.Error(), "aya.yaml:3: geoip database") || !strings.Contains(err.Error(), "not a MaxMind DB file") {
		t.Fatalf("Check = %v, want the geoip line and what is wrong", err)
	}
}
