package upstream

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"aya/internal/balance"
	"aya/internal/config"
)

// placed builds a pool from specs "name:prio[:b][:zone]" (b for backup), with the targets
// listed in down marked down.
func placed(t *testing.T, u config.Upstream, specs []string, down ...string) *Pool {
	t.Helper()
	var ts []*Target
	for _, sp := range specs {
		f := strings.Split(sp, ":")
		tg := &Target{Name: f[0], Balance: balance.NewTarget(f[0], 1), Transport: &nopTransport{}}
		fmt.Sscan(f[1], &tg.Priority)
		for _, x := range f[2:] {
			if x == "b" {
				tg.Backup = true
			} else {
				tg.Zone = x
			}
		}
		ts = append(ts, tg)
	}
	p := newPool(u.Name, rr, ts, settingsOf(&u), nil)
	for _, tg := range ts {
		for _, d := range down {
			if tg.Name == d {
				tg.State.down.Store(true)
			}
		}
	}
	p.refresh()
	return p
}

// loads describes the view as "targets@share" per group.
func loads(p *Pool) string {
	v := p.view.Load()
	var out []string
	prev := 0.0
	for _, c := range v.choices {
		var names []string
		for _, bt := range c.targets {
			names = append(names, bt.Name)
		}
		out = append(out, fmt.Sprintf("%s@%.0f", strings.Join(names, ","), math.Round((c.upTo-prev)*100)))
		prev = c.upTo
	}
	s := strings.Join(out, " ")
	if v.panicking {
		s = "panic " + s
	}
	return s
}

func TestPlacement(t *testing.T) {
	up := config.Upstream{Name: "u", PanicThreshold: 0.5}
	zoned := config.Upstream{Name: "u", PanicThreshold: 0.5, Locality: &config.Locality{Zone: "a", MinHealthy: 0.7}}
	tests := []struct {
		name  string
		u     config.Upstream
		specs []string
		down  []string
		want  string
	}{
		{"backups idle while primaries are up", up, []string{"p1:0", "p2:0", "k1:0:b"}, nil, "p1,p2@100"},
		{"backups idle while one primary is up", up, []string{"p1:0", "p2:0", "k1:0:b"}, []string{"p1"}, "p2@100"},
		{"backups take over when every primary is down", up, []string{"p1:0", "p2:0", "k1:0:b", "k2:0:b"}, []string{"p1", "p2"}, "k1,k2@100"},
		{"no usable backup either: panic over the primaries", up, []string{"p1:0", "p2:0", "k1:0:b"}, []string{"p1", "p2", "k1"}, "panic p1,p2@100"},
		{"priority 0 keeps everything above 71% usable", up, []string{"a1:0", "a2:0", "a3:0", "a4:0", "b1:1"}, []string{"a1"}, "a2,a3,a4@100"},
		{"priority 0 spills over below 71%", up, []string{"a1:0", "a2:0", "b1:1", "b2:1"}, []string{"a1"}, "a2@70 b1,b2@30"},
		{"a whole level down spills everything", up, []string{"a1:0", "b1:1", "b2:1"}, []string{"a1"}, "b1,b2@100"},
		{"degraded everywhere: spread in proportion", config.Upstream{Name: "u"}, []string{"a1:0", "a2:0", "a3:0", "b1:1", "b2:1", "b3:1"},
			[]string{"a1", "a2", "b1", "b2"}, "a3@50 b3@50"},
		{"local zone preferred", zoned, []string{"x1:0:a", "x2:0:a", "y1:0:b2"}, nil, "x1,x2@100"},
		{"local zone below min_healthy spreads over all zones", zoned, []string{"x1:0:a", "x2:0:a", "y1:0:z", "y2:0:z"}, []string{"x1"}, "x2,y1,y2@100"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := placed(t, tc.u, tc.specs, tc.down...)
			if got := loads(p); got != tc.want {
				t.Fatalf("view %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPlacementPicksFollowShares(t *testing.T) {
	p := placed(t, config.Upstream{Name: "u", PanicThreshold: 0.5}, []string{"a1:0", "a2:0", "b1:1", "b2:1"}, "a1")
	seen := map[string]int{}
	for range 10000 {
		seen[p.Pick(nil).Name]++
	}
	if seen["a1"] != 0 || math.Abs(float64(seen["a2"])/10000-0.7) > 0.03 {
		t.Fatalf("picks %v, want a2 about 70%%", seen)
	}
	// A retry avoids the tried target even across levels.
	tried := []*Target{p.Targets()[1], p.Targets()[2]}
	for range 100 {
		if got := p.Repick(nil, tried); got.Name != "b2" {
			t.Fatalf("repick %s", got.Name)
		}
	}
}

func TestRetryReachesBackups(t *testing.T) {
	p := placed(t, config.Upstream{Name: "u", PanicThreshold: 0.5}, []string{"p1:0", "p2:0", "k1:0:b"}, "p1")
	if got := p.Repick(nil, []*Target{p.Targets()[1]}); got == nil || got.Name != "k1" {
		t.Fatalf("a retry after the last usable primary failed went to %v, want the backup", got)
	}
}
