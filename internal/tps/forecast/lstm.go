package forecast

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// LSTMConfig sizes the LSTM forecaster and its training.
type LSTMConfig struct {
	Hidden       int     // units in the LSTM layer; default 16
	Window       int     // ticks of history the net reads per forecast; default 24
	Horizon      int     // ticks it predicts directly; later ones repeat the last; default 8
	Season       int     // ticks per season; > 1 adds the phase (sin, cos) as an input
	Epochs       int     // passes over the training windows; default 30
	MaxWindows   int     // windows sampled per epoch (bounds the training time); default 256
	Batch        int     // windows per Adam step; default 16
	LearningRate float64 // Adam step size; default 0.01
	Seed         uint64  // seeds the weights and the window order
}

func (c LSTMConfig) withDefaults() LSTMConfig {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Hidden, 16)
	def(&c.Window, 24)
	def(&c.Horizon, 8)
	def(&c.Epochs, 30)
	def(&c.MaxWindows, 256)
	def(&c.Batch, 16)
	if c.LearningRate <= 0 {
		c.LearningRate = 0.01
	}
	return c
}

// LSTM forecasts with a one-layer LSTM trained by backpropagation through time (Adam) on
// windows of a service's history. It reads the last Window values, each as its level and its
// difference to the window's last value (both divided by the history's mean, so a trained net
// fits any traffic level), plus the season's phase, and predicts the next Horizon values as
// changes from the last one: an untrained net (all zero) is the naive forecast. Before Fit, or
// with fewer than Window values observed, it forecasts the last value.
type LSTM struct {
	cfg   LSTMConfig
	net   *lstmNet
	tape  *lstmTape
	scale float64

	hist []float64 // ring of the last Window values
	n    int       // values observed (position in the season of the next one is n % Season)
	xs   []float64 // scratch: the net's input sequence
}

// NewLSTM returns an untrained LSTM forecaster.
func NewLSTM(cfg LSTMConfig) *LSTM {
	cfg = cfg.withDefaults()
	l := &LSTM{cfg: cfg, hist: make([]float64, cfg.Window)}
	l.xs = make([]float64, cfg.Window*l.inputs())
	return l
}

func (l *LSTM) inputs() int {
	if l.cfg.Season > 1 {
		return 4
	}
	return 2
}

// Fit trains a fresh net on the windows of history and then observes history, so forecasts
// continue from its end. It needs at least Window+Horizon values.
func (l *LSTM) Fit(history []float64) error {
	cfg := l.cfg
	if len(history) < cfg.Window+cfg.Horizon {
		return fmt.Errorf("LSTM forecaster: %d values of history, want at least window+horizon = %d", len(history), cfg.Window+cfg.Horizon)
	}
	l.scale = 0
	for _, x := range history {
		l.scale += math.Abs(x)
	}
	l.scale /= float64(len(history))
	if l.scale == 0 {
		l.scale = 1
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x157))
	l.net = newLSTMNet(l.inputs(), cfg.Hidden, cfg.Horizon, rng)
	l.tape = newLSTMTape(l.net, cfg.Window)
	grad := make([]float64, len(l.net.params))
	opt := newAdam(len(grad), cfg.LearningRate)
	dy := make([]float64, cfg.Horizon)

	// Window ending at index e (exclusive) predicts history[e : e+Horizon].
	ends := make([]int, 0, len(history))
	for e := cfg.Window; e+cfg.Horizon <= len(history); e++ {
		ends = append(ends, e)
	}
	for range cfg.Epochs {
		rng.Shuffle(len(ends), func(i, j int) { ends[i], ends[j] = ends[j], ends[i] })
		epoch := ends[:min(len(ends), cfg.MaxWindows)]
		for b := 0; b < len(epoch); b += cfg.Batch {
			batch := epoch[b:min(b+cfg.Batch, len(epoch))]
			clear(grad)
			for _, e := range batch {
				last := l.encode(history[e-cfg.Window:e], e-cfg.Window)
				y := l.net.forward(l.xs, l.tape)
				for k := range dy {
					target := (history[e+k] - last) / l.scale
					dy[k] = 2 * (y[k] - target) / float64(cfg.Horizon*len(batch))
				}
				l.net.backward(l.tape, dy, grad)
			}
			opt.step(l.net.params, grad)
		}
	}
	l.n = 0
	for _, x := range history {
		l.Observe(x)
	}
	return nil
}

// encode writes the net's input sequence for window (whose first value is the start-th of
// the series) into l.xs and returns the window's last value.
func (l *LSTM) encode(window []float64, start int) float64 {
	last := window[len(window)-1]
	in := l.inputs()
	for s, x := range window {
		row := l.xs[s*in : (s+1)*in]
		row[0] = x / l.scale
		row[1] = (x - last) / l.scale
		if in == 4 {
			phase := 2 * math.Pi * float64((start+s)%l.cfg.Season) / float64(l.cfg.Season)
			row[2], row[3] = math.Sin(phase), math.Cos(phase)
		}
	}
	return last
}

// Observe appends x to the window of recent values.
func (l *LSTM) Observe(x float64) {
	l.hist[l.n%len(l.hist)] = x
	l.n++
}

// Forecast runs the net over the last Window values; past Horizon ticks it repeats the last
// predicted value.
func (l *LSTM) Forecast(h int) []float64 {
	out := make([]float64, h)
	if l.n == 0 {
		return out
	}
	W := len(l.hist)
	last := l.hist[(l.n-1)%W]
	if l.net == nil || l.n < W {
		for i := range out {
			out[i] = last
		}
		return out
	}
	window := make([]float64, W)
	for i := range window {
		window[i] = l.hist[(l.n-W+i)%W]
	}
	l.encode(window, l.n-W)
	y := l.net.forward(l.xs, l.tape)
	for k := range out {
		out[k] = max(0, last+y[min(k, len(y)-1)]*l.scale)
	}
	return out
}
