package rl

import "math"

// adam is the Adam optimiser over one flat parameter vector, with global gradient-norm
// clipping (PPO's usual guard against a rare huge step).
type adam struct {
	lr, beta1, beta2, eps, maxNorm float64
	m, v                           []float64
	t                              int
}

func newAdam(n int, lr float64) *adam {
	return &adam{lr: lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, maxNorm: 0.5, m: make([]float64, n), v: make([]float64, n)}
}

// step moves params against grad (already averaged over the batch).
func (a *adam) step(params, grad []float64) {
	norm := 0.0
	for _, g := range grad {
		norm += g * g
	}
	scale := 1.0
	if norm = math.Sqrt(norm); norm > a.maxNorm {
		scale = a.maxNorm / norm
	}
	a.t++
	c1 := 1 - math.Pow(a.beta1, float64(a.t))
	c2 := 1 - math.Pow(a.beta2, float64(a.t))
	for i, g := range grad {
		g *= scale
		a.m[i] = a.beta1*a.m[i] + (1-a.beta1)*g
		a.v[i] = a.beta2*a.v[i] + (1-a.beta2)*g*g
		params[i] -= a.lr * (a.m[i] / c1) / (math.Sqrt(a.v[i]/c2) + a.eps)
	}
}
