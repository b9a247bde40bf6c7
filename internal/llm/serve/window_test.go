package serve

import "testing"

func TestNearWindowLooksAtFallbacksToo(t *testing.T) {
	small := &Model{Name: "small", Deployments: []*Deployment{{ContextWindow: 1000}}}
	big := &Model{Name: "big", Deployments: []*Deployment{{ContextWindow: 100000}}, Fallbacks: []*Model{small}}
	open := &Model{Name: "open", Deployments: []*Deployment{{}}}
	r := NewRouter([]*Model{small, big, open}, nil, 0)
	for _, c := range []struct {
		m     *Model
		guess int
		want  bool
	}{
		{small, 400, false}, {small, 500, true}, {big, 499, false}, {big, 500, true}, {open, 1 << 20, false},
	} {
		if got := r.nearWindow(c.m, c.guess); got != c.want {
			t.Errorf("nearWindow(%s, %d) = %v, want %v", c.m.Name, c.guess, got, c.want)
		}
	}
}
