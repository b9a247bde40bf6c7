package rl

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMLPGradient compares backpropagation with central finite differences for every
// parameter of a small net.
func TestMLPGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	m := newMLP([]int{3, 5, 4, 2}, nil, 1, rng)
	for i := range m.params {
		m.params[i] = rng.NormFloat64() * 0.7
	}
	x := []float64{0.3, -1.2, 0.8}
	coef := []float64{1.1, -0.4}
	tape := newMLPTape(m)
	loss := func() float64 {
		y := m.forward(x, tape)
		return coef[0]*y[0] + coef[1]*y[1]
	}
	loss()
	grad := make([]float64, len(m.params))
	m.backward(tape, coef, grad)
	const eps = 1e-6
	for i := range m.params {
		p := m.params[i]
		m.params[i] = p + eps
		up := loss()
		m.params[i] = p - eps
		down := loss()
		m.params[i] = p
		num := (up - down) / (2 * eps)
		if math.Abs(num-grad[i]) > 1e-6*math.Max(1, math.Abs(num)) {
			t.Fatalf("param %d: backprop %.9f, finite difference %.9f", i, grad[i], num)
		}
	}
}

func BenchmarkMLPForward(b *testing.B) {
	m := newMLP([]int{8, 32, 32, 1}, nil, 1, rand.New(rand.NewPCG(1, 1)))
	tape := newMLPTape(m)
	x := make([]float64, 8)
	b.ReportAllocs()
	for b.Loop() {
		m.forward(x, tape)
	}
}
