package test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath finds a Chromium to drive. CI installs it (.ci/run), so there a missing browser
// fails the test; on a developer's machine without one the dashboard tests are skipped.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found on PATH: the dashboard tests need it; .ci/run installs the Debian package chromium (apt-get install -y chromium)")
	}
	t.Skip("chromium not found on PATH: apt-get install -y chromium to run the dashboard tests")
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile and returns a tab's context. The
// network here is closed, so every background fetch Chromium would make is switched off.
func newBrowser(t *testing.T, width, height int) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("disable-dev-shm-usage", true), // containers often have a tiny /dev/shm
	}
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// run runs browser actions and fails the test on an error.
func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitJS polls a JavaScript expression in the page until it is true.
func waitJS(t *testing.T, ctx context.Context, what, expr string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last string
	for time.Now().Before(deadline) {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("Boolean("+expr+")"))
		if err == nil && ok {
			return
		}
		if err != nil {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	live, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('#live-text')||{}).textContent||''`))
	t.Fatalf("%s: not true within %v: %s (live: %q) %s", what, limit, expr, live, last)
}

// jsString evaluates a JavaScript expression to a string.
func jsString(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

// screenshot saves the viewport as name.png in the test's temp dir, and also in
// $AYA_SCREENSHOTS when set (make screenshots refreshes docs/screenshots that way).
func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dirs := []string{dir}
	if d := os.Getenv("AYA_SCREENSHOTS"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshot %s (%d KiB)", filepath.Join(dir, name+".png"), len(png)>>10)
}

// drive sends a steady mix of requests to the demo until the test ends: fast answers, slow
// ones and upstream errors, so every chart has something to show.
func drive(t *testing.T, web string) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	c := client()
	paths := []string{"/api/hello", "/api/hello", "/api/items/1", "/api/hello?latency=40ms", "/api/hello", "/api/status/503", "/api/hello", "/api/users/7"}
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(25 * time.Millisecond)
			defer tick.Stop()
			for i := w; ; i += 2 {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s%s", web, paths[i%len(paths)]), nil)
				if resp, err := c.Do(req); err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
}
