package serve

import "time"

// DeploymentState is what the admin API shows of a deployment's routing state: whether it or
// any of its provider keys sits out, and until when. Keys are named by KeyLabel, never shown.
type DeploymentState struct {
	Model        string     `json:"model"`
	Provider     string     `json:"provider"`
	Deployment   string     `json:"deployment"`
	InFlight     int64      `json:"in_flight"`
	Cooling      bool       `json:"cooling"` // it sits out, or all its keys do
	CoolingUntil *time.Time `json:"cooling_until,omitempty"`
	Keys         []KeyState `json:"keys,omitempty"`
}

// KeyState is one provider key of a deployment.
type KeyState struct {
	Key          string     `json:"key"`
	CoolingUntil *time.Time `json:"cooling_until,omitempty"`
}

// Deployments lists every model's deployments (by model name, in name order) as they are at
// now.
func (h *Handler) Deployments(now time.Time) []DeploymentState {
	out := []DeploymentState{}
	for _, name := range h.models {
		m, _ := h.router.Lookup(name)
		if m.Name != name { // an alias
			continue
		}
		for _, d := range m.Deployments {
			s := DeploymentState{Model: m.Name, Provider: d.ProviderName, Deployment: d.Model, InFlight: d.inflight.Load(), Cooling: d.cooling(now)}
			if u := d.cooldown.Load(); u > now.UnixNano() {
				t := time.Unix(0, u).UTC()
				s.CoolingUntil = &t
			}
			for _, k := range d.Keys {
				ks := KeyState{Key: k.Label}
				if u := k.CoolingUntil(now); !u.IsZero() {
					u = u.UTC()
					ks.CoolingUntil = &u
				}
				s.Keys = append(s.Keys, ks)
			}
			out = append(out, s)
		}
	}
	return out
}
