package rl

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// mlp is a fully connected net with tanh hidden layers and a linear output. Its parameters
// live in one flat slice so that Adam, gradients and the model file treat them as one vector;
// layer l has weights (sizes[l+1] × sizes[l], row-major) followed by biases.
type mlp struct {
	sizes  []int
	params []float64
	w, b   [][]float64 // per-layer views into params
}

// newMLP builds a net over params (mlpSize(sizes) values, allocated when nil) and, when rng
// is not nil, initialises it.
func newMLP(sizes []int, params []float64, outScale float64, rng *rand.Rand) *mlp {
	if params == nil {
		params = make([]float64, mlpSize(sizes))
	}
	m := &mlp{sizes: sizes, params: params}
	m.w, m.b = m.views(m.params)
	if rng == nil {
		return m
	}
	for l := range m.w {
		// Glorot-uniform; the output layer is shrunk by outScale so a fresh policy starts near
		// its mean action (0: the base allocation unchanged) and a fresh critic near 0.
		lim := math.Sqrt(6.0 / float64(sizes[l]+sizes[l+1]))
		if l == len(m.w)-1 {
			lim *= outScale
		}
		for i := range m.w[l] {
			m.w[l][i] = (2*rng.Float64() - 1) * lim
		}
	}
	return m
}

func mlpSize(sizes []int) int {
	n := 0
	for l := 0; l+1 < len(sizes); l++ {
		n += sizes[l+1]*sizes[l] + sizes[l+1]
	}
	return n
}

// views slices p (a vector of mlpSize values: the parameters or a gradient) per layer.
func (m *mlp) views(p []float64) (w, b [][]float64) {
	layers := len(m.sizes) - 1
	w, b = make([][]float64, layers), make([][]float64, layers)
	o := 0
	for l := range layers {
		in, out := m.sizes[l], m.sizes[l+1]
		w[l], o = p[o:o+in*out], o+in*out
		b[l], o = p[o:o+out], o+out
	}
	return w, b
}

// mlpTape holds one forward pass's activations (acts[0] is the input) and the backward
// pass's scratch, so neither allocates.
type mlpTape struct {
	acts   [][]float64
	deltas [][]float64
	gw, gb [][]float64 // gradient views, bound by bindGrad
	gradOf []float64   // the gradient vector the views point into
}

func newMLPTape(m *mlp) *mlpTape {
	t := &mlpTape{acts: make([][]float64, len(m.sizes)), deltas: make([][]float64, len(m.sizes))}
	for l, n := range m.sizes {
		t.acts[l] = make([]float64, n)
		t.deltas[l] = make([]float64, n)
	}
	return t
}

func (m *mlp) forward(x []float64, t *mlpTape) []float64 {
	copy(t.acts[0], x)
	last := len(m.w) - 1
	for l := range m.w {
		in, out := t.acts[l], t.acts[l+1]
		copy(out, m.b[l])
		W := blas64.General{Rows: len(out), Cols: len(in), Stride: len(in), Data: m.w[l]}
		blas64.Gemv(blas.NoTrans, 1, W, vec(in), 1, vec(out))
		if l < last {
			for i, v := range out {
				out[i] = math.Tanh(v)
			}
		}
	}
	return t.acts[len(t.acts)-1]
}

// backward adds to grad (a vector of mlpSize values) the gradient of a loss whose gradient
// with respect to the output of the last forward pass through t is dout.
func (m *mlp) backward(t *mlpTape, dout []float64, grad []float64) {
	if len(grad) > 0 && (t.gradOf == nil || &t.gradOf[0] != &grad[0]) {
		t.gw, t.gb = m.views(grad)
		t.gradOf = grad
	}
	top := len(m.w)
	copy(t.deltas[top], dout)
	for l := top - 1; l >= 0; l-- {
		d := t.deltas[l+1]
		if l < top-1 { // through tanh: d(tanh) = 1 - tanh²
			for i, a := range t.acts[l+1] {
				d[i] *= 1 - a*a
			}
		}
		in := t.acts[l]
		for i, v := range d {
			t.gb[l][i] += v
		}
		GW := blas64.General{Rows: len(d), Cols: len(in), Stride: len(in), Data: t.gw[l]}
		blas64.Ger(1, vec(d), vec(in), GW)
		if l > 0 {
			W := blas64.General{Rows: len(d), Cols: len(in), Stride: len(in), Data: m.w[l]}
			blas64.Gemv(blas.Trans, 1, W, vec(d), 0, vec(t.deltas[l]))
		}
	}
}

func vec(x []float64) blas64.Vector { return blas64.Vector{N: len(x), Inc: 1, Data: x} }
