// Package test holds end-to-end tests: each starts the real aya binary (built by `make test`,
// or here on first use) on free loopback ports, with real backends, and talks to it over real
// sockets.
package test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// ayaBin returns the binary under test: $AYA_BIN when set (make test builds bin/aya), else a
// fresh build into a temp dir, once per test process.
func ayaBin(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("AYA_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Dir(filepath.Dir(file))
		dir, err := os.MkdirTemp("", "aya-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "aya")
		cmd := exec.Command("go", "build", "-o", builtBin, "./cmd/aya")
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// freePort returns a loopback address with a port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// syncBuffer collects a process's output safely across goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a started aya process.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	out    *syncBuffer
	done   chan struct{}
	err    error
	Admin  string // admin host:port
	Config string // path of the config file
}

// startAya writes config (with {{ADMIN}} replaced by a free admin address) to a temp file and
// runs `aya run -c` on it, waiting until the admin /health answers 200.
func startAya(t *testing.T, config string) *proc {
	t.Helper()
	admin := freePort(t)
	config = strings.ReplaceAll(config, "{{ADMIN}}", admin)
	dir := t.TempDir()
	path := filepath.Join(dir, "aya.yaml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, []string{"run", "-c", path})
	p.Admin, p.Config = admin, path
	p.waitHealthy(10 * time.Second)
	return p
}

func startProc(t *testing.T, args []string) *proc {
	t.Helper()
	cmd := exec.Command(ayaBin(t), args...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, out: out, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(5 * time.Second)
		if t.Failed() {
			t.Logf("aya output:\n%s", out.String())
		}
	})
	return p
}

func (p *proc) waitHealthy(limit time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			p.t.Fatalf("aya exited early: %v\n%s", p.err, p.out.String())
		default:
		}
		resp, err := http.Get("http://" + p.Admin + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	p.t.Fatalf("aya not healthy within %v\n%s", limit, p.out.String())
}

// stop sends SIGTERM and waits, killing the process if it does not exit in time. It returns
// the exit code (-1 when killed).
func (p *proc) stop(limit time.Duration) int {
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(limit):
		p.cmd.Process.Kill()
		<-p.done
		return -1
	}
}

// rewrite replaces the config file atomically (write + rename, as editors do).
func (p *proc) rewrite(config string) {
	p.t.Helper()
	config = strings.ReplaceAll(config, "{{ADMIN}}", p.Admin)
	tmp := p.Config + ".tmp"
	if err := os.WriteFile(tmp, []byte(config), 0o644); err != nil {
		p.t.Fatal(err)
	}
	if err := os.Rename(tmp, p.Config); err != nil {
		p.t.Fatal(err)
	}
}

// waitOutput waits until the process output contains s.
func (p *proc) waitOutput(s string, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if strings.Contains(p.out.String(), s) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// rawExchange sends raw bytes on a new connection and returns everything read until the
// server closes or the timeout passes.
func rawExchange(t *testing.T, addr string, req string, timeout time.Duration) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	io.Copy(&buf, c)
	return buf.String()
}

// readResponse reads one response from br.
func readResponse(t *testing.T, br *bufio.Reader) *http.Response {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// client is an HTTP client with generous but bounded timeouts.
func client() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func jsonDecode(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// runAya runs the binary to completion and returns its combined output and exit code.
func runAya(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(ayaBin(t), args...)
	out, _ := cmd.CombinedOutput()
	return string(out), cmd.ProcessState.ExitCode()
}
