package gateway

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// TestTPSShowsLearnedBesideWaterfill: a learned pool in shadow mode reports, per service, what
// the policy would allocate and what waterfill enforces, with the retraining state.
func TestTPSShowsLearnedBesideWaterfill(t *testing.T) {
	be := backend(t)
	g, _ := testGateway(t, `listeners: [{name: web, address: "127.0.0.1:0"}]
admin: {address: "127.0.0.1:0"}
upstreams: [{name: u, targets: [{url: "{{BACKEND}}"}]}]
routes: [{name: api, match: {path: "/*"}, upstream: u, tps: {pool: partner, service: checkout}}]
tps:
  pools:
    - name: partner
      capacity: 100
      allocator: learned
      shadow: true
      retrain: true
      tick: 50ms
      services: [{name: checkout, priority: critical}, {name: reports, priority: low}]
`, be.URL)
	admin := "http://" + g.admin.addr()
	var view struct {
		Pools []struct {
			Allocator string
			Learned   struct {
				Enforced   string
				Learned    map[string]float64
				Waterfill  map[string]float64
				Retraining bool
				Drift      bool
			}
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(admin + "/tps")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&view)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(view.Pools) == 1 && len(view.Pools[0].Learned.Waterfill) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /tps never showed the learned allocator's decision: %+v", view)
		}
		time.Sleep(50 * time.Millisecond)
	}
	l := view.Pools[0].Learned
	if view.Pools[0].Allocator != "learned" || l.Enforced != "waterfill" || len(l.Learned) != 2 {
		t.Fatalf("shadow pool: allocator %q, enforced %q, learned %v", view.Pools[0].Allocator, l.Enforced, l.Learned)
	}
	if _, ok := l.Waterfill["checkout"]; !ok {
		t.Fatalf("waterfill shares are not named by service: %v", l.Waterfill)
	}
}
