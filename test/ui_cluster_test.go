package test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDashboardListsClusterNodes: in cluster mode the overview lists the live nodes, this one
// marked; a standalone aya shows no cluster card.
func TestDashboardListsClusterNodes(t *testing.T) {
	redis := startRedisServer(t)
	backend := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer backend.Close()
	var nodes []*proc
	for i := range 2 {
		cfg := strings.NewReplacer("{{WEB}}", freePort(t), "{{REDIS}}", redis.addr(), "{{NODE}}", fmt.Sprintf("n%d", i+1),
			"{{BACKEND}}", backend.URL).Replace(clusterConfig)
		nodes = append(nodes, startAya(t, cfg))
	}
	ctx := newBrowser(t, 1280, 860)
	run(t, ctx, "open node n1's overview", chromedp.Navigate("http://"+nodes[0].Admin+"/ui/#overview"))
	waitJS(t, ctx, "both nodes listed, n1 marked", `(() => { const rows = [...document.querySelectorAll('tr.cluster-node')]; return !document.querySelector('#cluster-card').hidden && rows.length === 2 && rows.map(r => r.dataset.node).join() === 'n1,n2' && rows[0].classList.contains('selected') && document.querySelector('#cluster-facts').textContent.includes('Redis up') })()`, 10*time.Second)

	// A node that stops leaves the list.
	nodes[1].stop(10 * time.Second)
	waitJS(t, ctx, "n2 gone from the list", `document.querySelectorAll('tr.cluster-node').length === 1`, 10*time.Second)

	standalone := startAya(t, fmt.Sprintf(`listeners: [{name: web, address: "%s"}]
admin: {address: "{{ADMIN}}"}
upstreams: [{name: app, targets: [{url: "%s"}]}]
routes: [{name: api, match: {path: "/*"}, upstream: app}]
`, freePort(t), backend.URL))
	run(t, ctx, "open a standalone aya", chromedp.Navigate("http://"+standalone.Admin+"/ui/#overview"))
	waitJS(t, ctx, "overview live", `document.querySelector('#stat-alerts').textContent !== '–'`, 10*time.Second)
	if jsString(t, ctx, `String(document.querySelector('#cluster-card').hidden)`) != "true" {
		t.Fatal("a standalone aya shows a cluster card")
	}
}
