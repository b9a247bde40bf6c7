package test

import (
	"fmt"
	"testing"
	"time"
)

// TestKillBackendUnderLoad kills one of three backends while clients send GETs: retries hide
// the failure from every client, active health checks take the dead target out within
// interval × fall, and bring it back within interval × rise of its return.
func TestKillBackendUnderLoad(t *testing.T) {
	bs := []*backend{
		startBackend(t, "b1", "127.0.0.1:0"), startBackend(t, "b2", "127.0.0.1:0"), startBackend(t, "b3", "127.0.0.1:0"),
	}
	web := freePort(t)
	const interval, fall, rise = 500 * time.Millisecond, 2, 2
	p := startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s"}]
upstreams:
  - name: app
    targets: ["%s", "%s", "%s"]
    health: {path: /healthz, interval: %v, timeout: 300ms, fall: %d, rise: %d}
    retries: {attempts: 2, on: [connect_error, reset, 502, 503, 504]}
routes: [{name: r, match: {path: "/*"}, upstream: app}]
admin: {address: "{{ADMIN}}"}
`, web, bs[0].url(), bs[1].url(), bs[2].url(), interval, fall, rise))

	l := startLoad(t, "http://"+web+"/x", 6, nil)
	time.Sleep(2 * time.Second)
	if c := l.counts(); len(c) != 3 {
		t.Fatalf("before the kill traffic reached %v", c)
	}
	victim := bs[1]
	victim.stop()
	down := waitState(t, p.Admin, "app", victim.url(), "unhealthy", 3*interval*fall)
	l.counts() // answers of requests in flight at the kill, which the backend finished
	time.Sleep(3 * time.Second)
	if c := l.counts(); c["b2"] != 0 {
		t.Fatalf("the dead target still answered %v", c)
	}
	victim.start()
	up := waitState(t, p.Admin, "app", victim.url(), "healthy", 3*interval*rise)
	time.Sleep(2 * time.Second)
	l.end()
	if c := l.counts(); c["b2"] == 0 {
		t.Fatalf("the recovered target got no traffic: %v", c)
	}
	t.Logf("scenario 1: %d requests, %d client errors; detected down after %v (interval × fall = %v), back up after %v (interval × rise = %v)",
		l.ok.Load()+l.failed.Load(), l.failed.Load(), down.Round(time.Millisecond), interval*fall, up.Round(time.Millisecond), interval*rise)
	if n := l.failed.Load(); n != 0 {
		t.Fatalf("%d client errors (first: %v)", n, l.firstErr.Load())
	}
}

// TestBackupsOnlyWhenPrimariesDown: backups get no request while a primary is up, take
// everything once all primaries are down, and give it back when a primary returns.
func TestBackupsOnlyWhenPrimariesDown(t *testing.T) {
	p1, p2 := startBackend(t, "p1", "127.0.0.1:0"), startBackend(t, "p2", "127.0.0.1:0")
	k1 := startBackend(t, "k1", "127.0.0.1:0")
	web := freePort(t)
	const interval = 300 * time.Millisecond
	p := startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s"}]
upstreams:
  - name: app
    targets: ["%s", "%s", {url: "%s", backup: true}]
    health: {path: /healthz, interval: %v, timeout: 200ms, fall: 2, rise: 2}
    retries: {attempts: 2, on: [connect_error, reset, 502, 503, 504]}
routes: [{name: r, match: {path: "/*"}, upstream: app}]
admin: {address: "{{ADMIN}}"}
`, web, p1.url(), p2.url(), k1.url(), interval))

	l := startLoad(t, "http://"+web+"/x", 4, nil)
	time.Sleep(time.Second)
	p1.stop()
	waitState(t, p.Admin, "app", p1.url(), "unhealthy", 3*interval*2)
	settle(l)
	if c := l.counts(); c["k1"] != 0 || c["p2"] == 0 {
		t.Fatalf("with one primary up: %v", c)
	}
	p2.stop()
	took := waitState(t, p.Admin, "app", p2.url(), "unhealthy", 3*interval*2)
	settle(l)
	if c := l.counts(); c["k1"] == 0 || c["p1"]+c["p2"] != 0 {
		t.Fatalf("with every primary down: %v", c)
	}
	p2.start()
	waitState(t, p.Admin, "app", p2.url(), "healthy", 3*interval*2)
	settle(l)
	l.end()
	if c := l.counts(); c["k1"] != 0 || c["p2"] == 0 {
		t.Fatalf("after a primary came back: %v", c)
	}
	t.Logf("scenario 4: %d requests, %d client errors; backups took over %v after the last primary died", l.ok.Load()+l.failed.Load(), l.failed.Load(), took.Round(time.Millisecond))
	if n := l.failed.Load(); n != 0 {
		t.Fatalf("%d client errors (first: %v)", n, l.firstErr.Load())
	}
}

// settle starts a fresh count once the change just seen has reached every request: the
// requests in flight when it happened (and their retries) land in a discarded window, then
// one second of traffic is counted.
func settle(l *load) {
	l.counts()
	time.Sleep(250 * time.Millisecond)
	l.counts()
	time.Sleep(time.Second)
}
