package rl

// PageHinkley detects a lasting rise in the mean of a stream (here: the forecast error): it
// sums each value's excess over the running mean less a tolerance Delta, and signals when that
// sum climbs more than Lambda above its lowest point. A rise that lasts is drift — the traffic
// no longer looks like what the model was trained on — while single spikes are absorbed.
type PageHinkley struct {
	Delta  float64 // tolerated rise of the mean before it counts
	Lambda float64 // how much accumulated rise signals drift
	// MinSamples is how many values to see before signalling: the running mean must settle.
	MinSamples int

	n        int
	mean     float64
	sum, low float64
	drifted  bool
}

// Add feeds one value and reports whether drift has been detected (it stays detected until
// Reset).
func (p *PageHinkley) Add(x float64) bool {
	p.n++
	p.mean += (x - p.mean) / float64(p.n)
	p.sum += x - p.mean - p.Delta
	p.low = min(p.low, p.sum)
	if p.n >= p.MinSamples && p.sum-p.low > p.Lambda {
		p.drifted = true
	}
	return p.drifted
}

// Drifted reports whether drift has been detected since the last Reset.
func (p *PageHinkley) Drifted() bool { return p.drifted }

// Reset forgets the stream, e.g. after retraining on the new traffic.
func (p *PageHinkley) Reset() {
	*p = PageHinkley{Delta: p.Delta, Lambda: p.Lambda, MinSamples: p.MinSamples}
}
