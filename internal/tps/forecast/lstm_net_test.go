package forecast

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestLSTMGradient compares backpropagation through time with central finite differences on a
// tiny net, for every parameter.
func TestLSTMGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const in, hidden, out, steps = 2, 3, 2, 4
	n := newLSTMNet(in, hidden, out, rng)
	for i := range n.params {
		n.params[i] = rng.NormFloat64() * 0.5
	}
	xs := make([]float64, in*steps)
	for i := range xs {
		xs[i] = rng.NormFloat64()
	}
	coef := []float64{0.7, -1.3} // loss = Σ coef·y
	tape := newLSTMTape(n, steps)
	loss := func() float64 {
		y := n.forward(xs, tape)
		return coef[0]*y[0] + coef[1]*y[1]
	}
	loss()
	grad := make([]float64, len(n.params))
	n.backward(tape, coef, grad)
	const eps = 1e-6
	for i := range n.params {
		p := n.params[i]
		n.params[i] = p + eps
		up := loss()
		n.params[i] = p - eps
		down := loss()
		n.params[i] = p
		num := (up - down) / (2 * eps)
		if d := math.Abs(num - grad[i]); d > 1e-6*math.Max(1, math.Abs(num)) {
			t.Fatalf("param %d: backprop %.9f, finite difference %.9f", i, grad[i], num)
		}
	}
}

func BenchmarkLSTMForecast(b *testing.B) {
	series := seasonalSeries(400, 48, 3)
	l := NewLSTM(LSTMConfig{Season: 48, Epochs: 1, MaxWindows: 16})
	if err := l.Fit(series); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		l.Forecast(8)
	}
}
