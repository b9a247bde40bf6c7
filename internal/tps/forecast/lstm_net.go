package forecast

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// lstmNet is one LSTM layer followed by a linear read-out of the last hidden state. All
// parameters live in one flat slice (so Adam and copies treat them as one vector):
//
//	W  4H×(I+H)  gate weights over [input; previous hidden], gates ordered i, f, o, g
//	b  4H
//	Wy O×H       read-out
//	by O
type lstmNet struct {
	in, hidden, out int
	params          []float64
	w, b, wy, by    []float64 // views into params
}

func newLSTMNet(in, hidden, out int, rng *rand.Rand) *lstmNet {
	n := &lstmNet{in: in, hidden: hidden, out: out}
	n.params = make([]float64, n.size())
	n.bind(n.params)
	// Glorot-uniform weights; the forget gate starts open (bias 1) so early gradients flow.
	lim := math.Sqrt(6.0 / float64(in+2*hidden))
	for i := range n.w {
		n.w[i] = (2*rng.Float64() - 1) * lim
	}
	for j := hidden; j < 2*hidden; j++ {
		n.b[j] = 1
	}
	limY := math.Sqrt(6.0 / float64(hidden+out))
	for i := range n.wy {
		n.wy[i] = (2*rng.Float64() - 1) * limY
	}
	return n
}

func (n *lstmNet) size() int {
	cols := n.in + n.hidden
	return 4*n.hidden*cols + 4*n.hidden + n.out*n.hidden + n.out
}

// bind points the named views at p, a vector of size() values (the parameters or a gradient).
func (n *lstmNet) bind(p []float64) {
	n.w, n.b, n.wy, n.by = n.views(p)
}

func (n *lstmNet) views(p []float64) (w, b, wy, by []float64) {
	cols := n.in + n.hidden
	o := 0
	w, o = p[o:o+4*n.hidden*cols], o+4*n.hidden*cols
	b, o = p[o:o+4*n.hidden], o+4*n.hidden
	wy, o = p[o:o+n.out*n.hidden], o+n.out*n.hidden
	by = p[o : o+n.out]
	return w, b, wy, by
}

// lstmTape keeps what the backward pass needs from one forward pass over a sequence.
type lstmTape struct {
	steps int
	z     [][]float64 // per step: [input; previous hidden]
	gates [][]float64 // per step: activated gates i, f, o, g
	c     [][]float64 // per step: cell state after the step (index t+1; c[0] is zero)
	tc    [][]float64 // per step: tanh(c)
	h     [][]float64 // hidden state after the step (index t+1; h[0] is zero)
	y     []float64
	// scratch for backward
	dz, dzin, dh, dc []float64
}

func newLSTMTape(n *lstmNet, steps int) *lstmTape {
	t := &lstmTape{steps: steps}
	mk := func(rows, cols int) [][]float64 {
		m := make([][]float64, rows)
		for i := range m {
			m[i] = make([]float64, cols)
		}
		return m
	}
	t.z = mk(steps, n.in+n.hidden)
	t.gates = mk(steps, 4*n.hidden)
	t.c = mk(steps+1, n.hidden)
	t.tc = mk(steps+1, n.hidden)
	t.h = mk(steps+1, n.hidden)
	t.y = make([]float64, n.out)
	t.dz = make([]float64, 4*n.hidden)
	t.dzin = make([]float64, n.in+n.hidden)
	t.dh = make([]float64, n.hidden)
	t.dc = make([]float64, n.hidden)
	return t
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// forward runs the sequence xs (steps × in, flattened by step) from a zero state and returns
// the read-out, recording the tape.
func (n *lstmNet) forward(xs []float64, t *lstmTape) []float64 {
	H, cols := n.hidden, n.in+n.hidden
	W := blas64.General{Rows: 4 * H, Cols: cols, Stride: cols, Data: n.w}
	for s := 0; s < t.steps; s++ {
		z := t.z[s]
		copy(z, xs[s*n.in:(s+1)*n.in])
		copy(z[n.in:], t.h[s])
		g := t.gates[s]
		copy(g, n.b)
		blas64.Gemv(blas.NoTrans, 1, W, vec(z), 1, vec(g))
		cPrev, c, tc, h := t.c[s], t.c[s+1], t.tc[s+1], t.h[s+1]
		for j := range H {
			ig, fg, og, gg := sigmoid(g[j]), sigmoid(g[H+j]), sigmoid(g[2*H+j]), math.Tanh(g[3*H+j])
			g[j], g[H+j], g[2*H+j], g[3*H+j] = ig, fg, og, gg
			c[j] = fg*cPrev[j] + ig*gg
			tc[j] = math.Tanh(c[j])
			h[j] = og * tc[j]
		}
	}
	copy(t.y, n.by)
	Wy := blas64.General{Rows: n.out, Cols: H, Stride: H, Data: n.wy}
	blas64.Gemv(blas.NoTrans, 1, Wy, vec(t.h[t.steps]), 1, vec(t.y))
	return t.y
}

// backward adds to grad (a vector of size()) the gradient of a loss whose gradient with
// respect to the read-out is dy, through the sequence recorded in t.
func (n *lstmNet) backward(t *lstmTape, dy []float64, grad []float64) {
	H, cols := n.hidden, n.in+n.hidden
	gw, gb, gwy, gby := n.views(grad)
	for k, d := range dy {
		gby[k] += d
	}
	GWy := blas64.General{Rows: n.out, Cols: H, Stride: H, Data: gwy}
	blas64.Ger(1, vec(dy), vec(t.h[t.steps]), GWy)
	Wy := blas64.General{Rows: n.out, Cols: H, Stride: H, Data: n.wy}
	dh, dc := t.dh, t.dc
	blas64.Gemv(blas.Trans, 1, Wy, vec(dy), 0, vec(dh))
	clear(dc)
	W := blas64.General{Rows: 4 * H, Cols: cols, Stride: cols, Data: n.w}
	GW := blas64.General{Rows: 4 * H, Cols: cols, Stride: cols, Data: gw}
	dz := t.dz
	for s := t.steps - 1; s >= 0; s-- {
		g, cPrev, tc := t.gates[s], t.c[s], t.tc[s+1]
		for j := range H {
			ig, fg, og, gg := g[j], g[H+j], g[2*H+j], g[3*H+j]
			dct := dc[j] + dh[j]*og*(1-tc[j]*tc[j])
			dz[j] = dct * gg * ig * (1 - ig)
			dz[H+j] = dct * cPrev[j] * fg * (1 - fg)
			dz[2*H+j] = dh[j] * tc[j] * og * (1 - og)
			dz[3*H+j] = dct * ig * (1 - gg*gg)
			dc[j] = dct * fg
		}
		for j, d := range dz {
			gb[j] += d
		}
		blas64.Ger(1, vec(dz), vec(t.z[s]), GW)
		blas64.Gemv(blas.Trans, 1, W, vec(dz), 0, vec(t.dzin))
		copy(dh, t.dzin[n.in:])
	}
}

func vec(x []float64) blas64.Vector { return blas64.Vector{N: len(x), Inc: 1, Data: x} }

// adam is the Adam optimiser over one flat parameter vector.
type adam struct {
	lr, beta1, beta2, eps float64
	m, v                  []float64
	t                     int
}

func newAdam(n int, lr float64) *adam {
	return &adam{lr: lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, m: make([]float64, n), v: make([]float64, n)}
}

// step moves params against grad (already averaged over the batch).
func (a *adam) step(params, grad []float64) {
	a.t++
	c1 := 1 - math.Pow(a.beta1, float64(a.t))
	c2 := 1 - math.Pow(a.beta2, float64(a.t))
	for i, g := range grad {
		a.m[i] = a.beta1*a.m[i] + (1-a.beta1)*g
		a.v[i] = a.beta2*a.v[i] + (1-a.beta2)*g*g
		params[i] -= a.lr * (a.m[i] / c1) / (math.Sqrt(a.v[i]/c2) + a.eps)
	}
}
