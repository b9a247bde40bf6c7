package test

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const reloadConfig = `
listeners: [{name: web, address: "%s"}]
upstreams:
  - name: u
    balance: %s
    targets: [{url: "http://%s"}, {url: "http://%s"}]
routes:
  - name: r
    match: {path: "/*"}
    response_headers: {set: {X-Generation: "%d"}}
    upstream: u
admin: {address: "{{ADMIN}}"}
`

// TestReloadUnderLoad reloads 20 times (alternating file rewrites and SIGHUP) while clients
// hammer the gateway, and counts failed requests: there must be none. A bad config in between
// is refused and the old one keeps serving.
func TestReloadUnderLoad(t *testing.T) {
	b := backends(t, 2)
	web := freePort(t)
	algos := []string{"round_robin", "least_conn"}
	p := startAya(t, fmt.Sprintf(reloadConfig, web, algos[0], b[0], b[1], 0))

	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := client()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get("http://" + web + "/load")
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d", resp.StatusCode))
					continue
				}
				ok.Add(1)
			}
		}()
	}

	c := client()
	for gen := 1; gen <= 20; gen++ {
		p.rewrite(fmt.Sprintf(reloadConfig, web, algos[gen%2], b[0], b[1], gen))
		if gen%2 == 0 {
			p.cmd.Process.Signal(syscall.SIGHUP)
		}
		want := fmt.Sprint(gen)
		deadline := time.Now().Add(5 * time.Second)
		for {
			resp, err := c.Get("http://" + web + "/gen")
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.Header.Get("X-Generation") == want {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("generation %d not live within 5s\n%s", gen, p.out.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		if gen == 10 {
			// A broken config in the middle: refused, logged with file:line, old one serves.
			p.rewrite("listeners: [{name: web, address: \"" + web + "\"}]\nupstreams:\n  - name: u\n    balanse: round_robin\n")
			if !p.waitOutput("reload refused", 5*time.Second) {
				t.Fatalf("bad config not reported\n%s", p.out.String())
			}
			if !p.waitOutput("aya.yaml:4", time.Second) {
				t.Errorf("refusal does not name file:line\n%s", p.out.String())
			}
		}
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed during reloads; first: %v", failed.Load(), failed.Load()+ok.Load(), firstErr.Load())
	}
	if ok.Load() < 100 {
		t.Fatalf("only %d requests completed", ok.Load())
	}
	t.Logf("%d requests, 0 failed, across 20 reloads", ok.Load())
}

// TestValidate checks `aya validate` output and exit codes.
func TestValidate(t *testing.T) {
	dir := t.TempDir()
	good := dir + "/good.yaml"
	bad := dir + "/bad.yaml"
	writeFile(t, good, `
listeners: [{name: web, address: "127.0.0.1:0"}]
upstreams: [{name: u, targets: [{url: "http://127.0.0.1:9"}]}]
routes: [{name: r, match: {path: "/*"}, upstream: u}]
`)
	writeFile(t, bad, `listeners: [{name: web, address: "127.0.0.1:0"}]
upstreams:
  - name: u
    balance: fastest
    targets: [{url: "ftp://x"}]
routes:
  - {name: r, match: {path: "/*"}, upstream: nope, colour: red}
`)
	out, err := exec.Command(ayaBin(t), "validate", "-c", good).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("good config: %v %q", err, out)
	}
	cmd := exec.Command(ayaBin(t), "validate", "-c", bad)
	out, _ = cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("bad config exit %d: %s", cmd.ProcessState.ExitCode(), out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 3 {
		t.Fatalf("want one line per problem (>= 3), got:\n%s", out)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, bad+":") {
			t.Errorf("line without file:line prefix: %q", l)
		}
	}
	for _, want := range []string{bad + ":4:", bad + ":5:", bad + ":7:"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

// TestShutdownDrains checks SIGTERM lets an in-flight request finish and exits 0.
func TestShutdownDrains(t *testing.T) {
	b := backends(t, 1)
	web := freePort(t)
	p := startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s"}]
upstreams: [{name: u, targets: [{url: "http://%s"}]}]
routes: [{name: r, match: {path: "/*"}, upstream: u}]
admin: {address: "{{ADMIN}}"}
shutdown: {drain_timeout: 5s}
`, web, b[0]))
	done := make(chan error, 1)
	go func() {
		resp, err := client().Get("http://" + web + "/delay/700ms")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	if code := p.stop(5 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if err := <-done; err != nil {
		t.Fatalf("in-flight request failed during drain: %v", err)
	}
	if _, err := http.Get("http://" + web + "/"); err == nil {
		t.Fatal("still accepting after shutdown")
	}
}
