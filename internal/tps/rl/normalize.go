package rl

import "math"

// normalizer standardises inputs with means and deviations learned during training (running,
// Welford) and frozen in the model file, so that features of very different scales (rates,
// one-hot priorities, queue depths) reach the nets at a similar size. apply uses the
// statistics of the last refresh: inputs recorded within one training iteration stay
// comparable.
type normalizer struct {
	count    float64
	run, m2  []float64 // running mean and sum of squared deviations
	mean, sd []float64 // what apply uses
}

// normClip bounds a standardised value: one freak observation cannot saturate the net.
const normClip = 5

func newNormalizer(n int) *normalizer {
	z := &normalizer{run: make([]float64, n), m2: make([]float64, n), mean: make([]float64, n), sd: make([]float64, n)}
	for i := range z.sd {
		z.sd[i] = 1
	}
	return z
}

// observe adds x to the running statistics.
func (z *normalizer) observe(x []float64) {
	z.count++
	for i, v := range x {
		d := v - z.run[i]
		z.run[i] += d / z.count
		z.m2[i] += d * (v - z.run[i])
	}
}

// refresh makes apply use the running statistics.
func (z *normalizer) refresh() {
	if z.count < 2 {
		return
	}
	copy(z.mean, z.run)
	for i := range z.sd {
		z.sd[i] = math.Sqrt(z.m2[i]/z.count) + 1e-6
	}
}

// apply writes the standardised x into out.
func (z *normalizer) apply(x, out []float64) {
	for i, v := range x {
		out[i] = min(normClip, max(-normClip, (v-z.mean[i])/z.sd[i]))
	}
}
