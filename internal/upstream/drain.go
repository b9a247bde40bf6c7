package upstream

// SetDraining marks the target named url as draining (no new requests; requests in flight
// finish) or takes it back. It reports whether the pool has such a target.
func (p *Pool) SetDraining(url string, draining bool) bool {
	for _, t := range p.Targets() {
		if t.Name == url {
			t.State.draining.Store(draining)
			if p.up != nil {
				p.up.changed()
			} else {
				p.refresh()
			}
			return true
		}
	}
	return false
}
