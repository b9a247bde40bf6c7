package gateway

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"aya/internal/config"
)

var uuidV7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestRequestIDsAreUniqueV7(t *testing.T) {
	g := newIDGen()
	seen := map[string]bool{}
	var buf [36]byte
	for i := 0; i < 10000; i++ {
		g.next(&buf, time.Now())
		id := string(buf[:])
		if !uuidV7.MatchString(id) {
			t.Fatalf("not a UUIDv7: %s", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
	}
}

func TestValidRequestID(t *testing.T) {
	for id, want := range map[string]bool{
		"abc-123": true, "01a214e5-3594-71d2-998e-0420f43d41de": true, "": false,
		strings.Repeat("a", 129): false, "a b": false, "a\r\nX-Evil: 1": false, "é": false,
	} {
		if got := validRequestID(id); got != want {
			t.Errorf("%q: %v, want %v", id, got, want)
		}
	}
}

func BenchmarkRequestID(b *testing.B) {
	g := newIDGen()
	var buf [36]byte
	b.ReportAllocs()
	for b.Loop() {
		g.next(&buf, time.Now())
	}
}

func TestCheckReportsRouteErrorsWithLines(t *testing.T) {
	cfg, err := config.Parse("t.yaml", []byte(`listeners: [{name: web, address: "127.0.0.1:0"}]
upstreams: [{name: u, targets: [{url: "http://127.0.0.1:9"}]}]
routes:
  - {name: ok, match: {path: "/*"}, upstream: u}
  - {name: bad, match: {path: "/a//b"}, upstream: u}
`))
	if err != nil {
		t.Skipf("config refuses this already: %v", err)
	}
	err = Check(cfg)
	if err == nil || !strings.HasPrefix(err.Error(), "t.yaml:5: route \"bad\"") {
		t.Fatalf("got %v", err)
	}
}
