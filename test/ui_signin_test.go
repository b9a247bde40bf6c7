package test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDashboardSignIn checks the dashboard of an aya with an admin token: the page asks for
// the token, refuses a wrong one, then works on an HttpOnly session cookie the page cannot
// read; a change (draining a target) needs the session's CSRF token; signing out ends it.
func TestDashboardSignIn(t *testing.T) {
	const token = "dashboard-t0ken-for-tests"
	addrs := backends(t, 2)
	web := freePort(t)
	p := startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: %q}]
upstreams:
  - name: app
    targets: ["http://%s", "http://%s"]
routes:
  - {name: api, match: {path: "/api/*"}, upstream: app}
admin: {address: "{{ADMIN}}", token: %s}
`, web, addrs[0], addrs[1], token))
	drive(t, "http://"+web)
	ctx := newBrowser(t, 1100, 760)
	ui := "http://" + p.Admin + "/ui/"
	status := func(method, path string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf(`fetch(%q, {method: %q, credentials: 'same-origin'}).then(r => r.status)`, path, method), chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s %s from the page: %v", method, path, err)
		}
		return n
	}

	run(t, ctx, "open the dashboard", chromedp.Navigate(ui))
	waitJS(t, ctx, "sign-in form shown", `!document.querySelector('#login').hidden && document.querySelector('section[data-panel=overview]').hidden`, 5*time.Second)
	if n := status("GET", "../upstreams"); n != 401 {
		t.Fatalf("GET /upstreams before signing in: %d, want 401", n)
	}
	run(t, ctx, "wrong token", chromedp.SendKeys(chromedp.CSS(`#token`), "not-the-token\n"))
	waitJS(t, ctx, "refusal shown", `!document.querySelector('#login-error').hidden && document.querySelector('#login-error').textContent.includes('wrong admin token')`, 5*time.Second)
	jsString(t, ctx, `document.querySelector('#token').value = ''`)
	run(t, ctx, "right token", chromedp.SendKeys(chromedp.CSS(`#token`), token+"\n"))
	waitJS(t, ctx, "signed in and live", `document.querySelector('#login').hidden && !document.querySelector('section[data-panel=overview]').hidden && document.querySelector('#live-dot').classList.contains('on')`, 10*time.Second)
	waitJS(t, ctx, "numbers on the overview", `parseFloat(document.querySelector('#stat-rps').textContent) > 0`, 10*time.Second)
	if c := jsString(t, ctx, `document.cookie`); strings.Contains(c, "aya_admin") {
		t.Fatalf("the session cookie is readable by the page: %q", c)
	}
	if n := status("GET", "../upstreams"); n != 200 {
		t.Fatalf("GET /upstreams with the session: %d", n)
	}
	// A change without the CSRF token is refused even with the session cookie.
	if n := status("POST", "../upstreams/app/drain?target=http://"+addrs[0]); n != 401 {
		t.Fatalf("POST without the CSRF token: %d, want 401", n)
	}

	// The page's own Drain button sends the token.
	run(t, ctx, "open upstreams", chromedp.Navigate(ui+"#upstreams"))
	waitJS(t, ctx, "2 targets", `document.querySelectorAll('[data-upstream="app"] tr.target').length === 2`, 5*time.Second)
	target := jsString(t, ctx, `document.querySelector('[data-upstream="app"] tr.target td').textContent`)
	run(t, ctx, "drain the first target", chromedp.Click(chromedp.CSS(`[data-upstream="app"] tr.target button`)))
	waitJS(t, ctx, "target draining", `document.querySelector('[data-upstream="app"] tr.target').children[1].textContent === 'draining'`, 5*time.Second)
	req, _ := http.NewRequest("GET", "http://"+p.Admin+"/upstreams", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	var ups struct {
		Upstreams []struct {
			Targets []struct {
				URL   string `json:"url"`
				State string `json:"state"`
			} `json:"targets"`
		} `json:"upstreams"`
	}
	if resp, err := client().Do(req); err != nil {
		t.Fatal(err)
	} else if err := jsonDecode(resp, &ups); err != nil || ups.Upstreams[0].Targets[0].URL != target || ups.Upstreams[0].Targets[0].State != "draining" {
		t.Fatalf("after the dashboard's drain: %+v %v", ups, err)
	}
	if !strings.Contains(p.out.String(), `"credential":"session"`) {
		t.Errorf("the audit line does not name the session as the credential:\n%s", p.out.String())
	}

	run(t, ctx, "sign out", chromedp.Click(chromedp.CSS(`#logout`)))
	waitJS(t, ctx, "sign-in form again", `!document.querySelector('#login').hidden`, 5*time.Second)
	if n := status("GET", "../upstreams"); n != 401 {
		t.Fatalf("GET /upstreams after signing out: %d, want 401", n)
	}
}
