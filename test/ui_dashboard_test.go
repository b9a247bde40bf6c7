package test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDashboard opens the dashboard of a running `aya demo` in headless Chromium while traffic
// flows, and checks that every panel shows live numbers: the overview's request rate and
// charts, the 3 demo targets, the routes, recent requests with a filter and a detail view, the
// alerts panel, the TPS pool's 4 services, and the LLM calls, keys and models. Screenshots land in a temp dir (and in
// $AYA_SCREENSHOTS: make screenshots).
func TestDashboard(t *testing.T) {
	listen, admin := freePort(t), freePort(t)
	p := startProc(t, []string{"demo", "--listen", listen, "--admin", admin})
	p.Admin = admin
	p.waitHealthy(10 * time.Second)
	drive(t, "http://"+listen)
	shots := t.TempDir()
	ctx := newBrowser(t, 1280, 860)
	ui := "http://" + admin + "/ui/"

	// Overview: tiles and charts fill in as the analytics store closes each second.
	run(t, ctx, "open the overview", chromedp.Navigate(ui+"#overview"))
	if os.Getenv("AYA_SCREENSHOTS") != "" {
		// Pictures for the docs: let the charts and the TPS history fill up first.
		time.Sleep(45 * time.Second)
	}
	waitJS(t, ctx, "RPS tile above 0", `parseFloat(document.querySelector('#stat-rps').textContent) > 0`, 15*time.Second)
	waitJS(t, ctx, "RPS chart has points above 0", `(() => { const c = document.querySelector('#chart-rps')._chart; return c && c.opts.series[0].values.filter(v => v > 0).length >= 3 })()`, 15*time.Second)
	waitJS(t, ctx, "latency chart drawn", `document.querySelector('#chart-latency')._chart.opts.series[2].values.some(v => v > 0)`, 5*time.Second)
	waitJS(t, ctx, "5xx shown", `parseFloat(document.querySelector('#stat-5xx').textContent) > 0`, 10*time.Second)
	waitJS(t, ctx, "busiest routes list api and partner", `(() => { const t = document.querySelector('#top-routes tbody').textContent; return t.includes('api') && t.includes('partner') })()`, 5*time.Second)
	// The canvas really has ink on it, not just data behind it.
	waitJS(t, ctx, "RPS chart painted", `(() => { const c = document.querySelector('#chart-rps'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i+1] > 150 && d[i+2] > 150) n++; return n > 200 })()`, 5*time.Second)
	rps, _ := strconv.ParseFloat(jsString(t, ctx, `document.querySelector('#stat-rps').textContent`), 64)
	t.Logf("overview: %v req/s, p99 %s, 5xx %s", rps, jsString(t, ctx, `document.querySelector('#stat-p99').textContent`), jsString(t, ctx, `document.querySelector('#stat-5xx').textContent`))
	screenshot(t, ctx, shots, "overview")

	// Upstreams: the demo's 3 echo targets, healthy, with their traffic.
	run(t, ctx, "open upstreams", chromedp.Navigate(ui+"#upstreams"))
	waitJS(t, ctx, "3 demo targets listed", `document.querySelectorAll('[data-upstream="demo"] tr.target').length === 3`, 5*time.Second)
	waitJS(t, ctx, "targets healthy and taking requests", `[...document.querySelectorAll('[data-upstream="demo"] tr.target')].every(tr => tr.children[1].textContent === 'healthy' && parseFloat(tr.children[5].textContent) > 0)`, 10*time.Second)
	screenshot(t, ctx, shots, "upstreams")

	// Routes with their traffic.
	run(t, ctx, "open routes", chromedp.Navigate(ui+"#routes"))
	waitJS(t, ctx, "2 routes with traffic", `(() => { const rows = [...document.querySelectorAll('#routes-table tbody tr')]; return rows.length === 2 && rows.every(r => parseFloat(r.children[3].textContent) > 0) })()`, 5*time.Second)

	// Recent requests: filter to upstream errors, then open one.
	run(t, ctx, "open requests", chromedp.Navigate(ui+"#requests"))
	waitJS(t, ctx, "recent requests listed", `document.querySelectorAll('#requests-table tbody tr[data-id]').length > 10`, 5*time.Second)
	run(t, ctx, "filter status 503", chromedp.SendKeys(chromedp.CSS(`#req-filter input[name=status]`), "503\n"))
	waitJS(t, ctx, "only 503s listed", `(() => { const rows = [...document.querySelectorAll('#requests-table tbody tr[data-id]')]; return rows.length > 0 && rows.every(r => r.children[3].textContent === '503') })()`, 5*time.Second)
	// Clicked from inside the page: the table re-renders live, so a node chromedp resolved a
	// moment earlier may be gone by the time its click lands.
	if got := jsString(t, ctx, `(() => { const r = document.querySelector('#requests-table tbody tr[data-id]'); if (!r) return 'none'; r.click(); return 'clicked' })()`); got != "clicked" {
		t.Fatal("no request row to open")
	}
	waitJS(t, ctx, "request detail shown", `!document.querySelector('#req-detail').hidden && document.querySelector('#req-detail-body').textContent.includes('/status/503')`, 5*time.Second)
	id := jsString(t, ctx, `document.querySelector('#requests-table tbody tr.selected').dataset.id`)
	if detail := jsString(t, ctx, `document.querySelector('#req-detail-body').textContent`); !strings.Contains(detail, id) || !strings.Contains(detail, "upstream") {
		t.Fatalf("detail of %s: %q", id, detail)
	}
	screenshot(t, ctx, shots, "requests")

	// Alerts: the panel loads and says what the detector watches.
	run(t, ctx, "open alerts", chromedp.Navigate(ui+"#alerts"))
	waitJS(t, ctx, "alerts panel loaded", `document.querySelector('#alerts-anomaly').textContent.includes('Anomaly detector on')`, 5*time.Second)

	// TPS pools: 4 services, live demand, and a stacked allocation history under the cap.
	run(t, ctx, "open TPS pools", chromedp.Navigate(ui+"#tps"))
	waitJS(t, ctx, "4 services listed", `document.querySelectorAll('[data-pool="partner"] tr.tps-service').length === 4`, 5*time.Second)
	waitJS(t, ctx, "services show demand", `[...document.querySelectorAll('tr.tps-service')].filter(r => parseFloat(r.children[3].textContent) > 0).length >= 3`, 10*time.Second)
	waitJS(t, ctx, "allocation history with the cap line", `(() => { const c = document.querySelector('[data-pool="partner"] canvas')._chart.opts; return c.stacked && c.series.length === 4 && c.times.length >= 4 && c.lines[0].value === 150 })()`, 10*time.Second)
	waitJS(t, ctx, "learned policy beside waterfill", `(() => { const c = document.querySelector('[data-pool="partner"]'); return c.querySelector('.learned-enforced').textContent === 'waterfill' && c.querySelectorAll('tr.tps-learned-row').length === 4 && [...c.querySelectorAll('tr.tps-learned-row')].some(r => parseFloat(r.children[1].textContent) > 0) })()`, 10*time.Second)
	screenshot(t, ctx, shots, "tps")

	// LLM: a few calls through the demo's /v1, then the per-model table, the key and the log.
	for i := range 3 {
		body := fmt.Sprintf(`{"model":"gpt-4o-mini","max_tokens":8,"messages":[{"role":"user","content":"hello %d"}]}`, i)
		req, _ := http.NewRequest("POST", "http://"+listen+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer sk-demo")
		req.Header.Set("Content-Type", "application/json")
		resp, err := client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("demo LLM call: %d", resp.StatusCode)
		}
	}
	run(t, ctx, "open LLM", chromedp.Navigate(ui+"#llm"))
	waitJS(t, ctx, "model row with 3 calls and tokens", `(() => { const r = document.querySelector('tr.llm-model[data-model="gpt-4o-mini"]'); return r && r.children[2].textContent === '3' && parseFloat(r.children[5].textContent) > 0 })()`, 10*time.Second)
	waitJS(t, ctx, "demo key shows its requests", `(() => { const r = document.querySelector('tr.llm-key[data-key="demo"]'); return r && parseFloat(r.children[2].textContent) >= 3 })()`, 5*time.Second)
	waitJS(t, ctx, "recent calls listed", `document.querySelectorAll('#llm-calls tbody tr.llm-call').length >= 3`, 5*time.Second)
	screenshot(t, ctx, shots, "llm")

	// A phone: the overview still fits, tiles two abreast, charts one per row.
	run(t, ctx, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile), chromedp.Navigate(ui+"#overview"))
	waitJS(t, ctx, "phone overview live", `parseFloat(document.querySelector('#stat-rps').textContent) > 0 && document.querySelector('#chart-rps')._chart.opts.times.length > 0`, 10*time.Second)
	if jsString(t, ctx, `String(document.documentElement.scrollWidth > window.innerWidth + 1)`) == "true" {
		t.Error("the overview is wider than a phone's screen")
	}
	screenshot(t, ctx, shots, "phone")
}
