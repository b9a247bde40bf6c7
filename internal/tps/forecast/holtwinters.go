package forecast

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/optimize"
)

// HoltWintersParams are the smoothing constants of additive Holt-Winters with a damped trend.
type HoltWintersParams struct {
	Alpha float64 // level, in (0,1)
	Beta  float64 // trend, in (0,1)
	Gamma float64 // season, in (0,1); unused without a season
	Phi   float64 // trend damping, in (0,1]: 1 extrapolates the trend forever
}

// DefaultHoltWintersParams are reasonable constants for noisy arrival rates before a fit.
var DefaultHoltWintersParams = HoltWintersParams{Alpha: 0.3, Beta: 0.05, Gamma: 0.1, Phi: 0.95}

// HoltWinters is additive Holt-Winters: level, damped trend, and a season of a fixed number of
// ticks (none when Season ≤ 1). Until it has seen enough values to initialise (two seasons, or
// two values without a season) it forecasts the last value.
type HoltWinters struct {
	season int
	p      HoltWintersParams

	level, trend float64
	seasonal     []float64 // additive offsets, indexed by position in the season
	pos          int       // position in the season of the next observation
	warm         []float64 // values buffered until initialised
	ready        bool
}

// NewHoltWinters returns a Holt-Winters forecaster with a season of season ticks (≤ 1: none)
// and the given constants.
func NewHoltWinters(season int, p HoltWintersParams) *HoltWinters {
	if season < 1 {
		season = 1
	}
	return &HoltWinters{season: season, p: p}
}

// Params returns the smoothing constants in use.
func (hw *HoltWinters) Params() HoltWintersParams { return hw.p }

func (hw *HoltWinters) warmup() int {
	if hw.season > 1 {
		return 2 * hw.season
	}
	return 2
}

// Observe updates level, trend and season with x.
func (hw *HoltWinters) Observe(x float64) {
	if !hw.ready {
		hw.warm = append(hw.warm, x)
		if len(hw.warm) == hw.warmup() {
			hw.initialise()
		}
		return
	}
	hw.step(x)
}

// initialise sets level, trend and season from the buffered values: the level is the mean of
// the last season, the trend the change of the season means per tick, the season the mean
// deviation of each position from its season's mean.
func (hw *HoltWinters) initialise() {
	m := hw.season
	w := hw.warm
	if m == 1 {
		hw.level, hw.trend = w[1], w[1]-w[0]
		hw.seasonal = []float64{0}
	} else {
		mean1, mean2 := mean(w[:m]), mean(w[m:])
		hw.level = mean2
		hw.trend = (mean2 - mean1) / float64(m)
		hw.seasonal = make([]float64, m)
		for i := range m {
			hw.seasonal[i] = (w[i] - mean1 + w[m+i] - mean2) / 2
		}
		// The level is the second season's mean, centred half a season back; move it to now.
		hw.level += hw.trend * float64(m-1) / 2
	}
	hw.pos = 0
	hw.warm = nil
	hw.ready = true
}

func (hw *HoltWinters) step(x float64) {
	p := hw.p
	s := hw.seasonal[hw.pos]
	prev := hw.level
	damped := p.Phi * hw.trend
	hw.level = p.Alpha*(x-s) + (1-p.Alpha)*(prev+damped)
	hw.trend = p.Beta*(hw.level-prev) + (1-p.Beta)*damped
	if hw.season > 1 {
		hw.seasonal[hw.pos] = p.Gamma*(x-hw.level) + (1-p.Gamma)*s
	}
	hw.pos = (hw.pos + 1) % hw.season
}

// Forecast returns level + damped trend + season for each of the next h ticks.
func (hw *HoltWinters) Forecast(h int) []float64 {
	out := make([]float64, h)
	hw.ForecastInto(out)
	return out
}

// ForecastInto writes the next len(out) forecasts into out without allocating, for callers
// that forecast every tick.
func (hw *HoltWinters) ForecastInto(out []float64) {
	if !hw.ready {
		last := 0.0
		if n := len(hw.warm); n > 0 {
			last = hw.warm[n-1]
		}
		for i := range out {
			out[i] = last
		}
		return
	}
	trend, damp := 0.0, 1.0
	for k := range out {
		damp *= hw.p.Phi
		trend += damp * hw.trend
		// Demand is never negative; a falling trend must not forecast below zero.
		out[k] = max(0, hw.level+trend+hw.seasonal[(hw.pos+k)%hw.season])
	}
}

// sse is the sum of squared one-step-ahead errors of constants p over history.
func sse(history []float64, season int, p HoltWintersParams) float64 {
	hw := NewHoltWinters(season, p)
	var one [1]float64
	total := 0.0
	for _, x := range history {
		if hw.ready {
			hw.ForecastInto(one[:])
			d := x - one[0]
			total += d * d
		}
		hw.Observe(x)
	}
	return total
}

// errShortHistory is returned when the history cannot initialise the model twice over.
var errShortHistory = errors.New("history too short to fit Holt-Winters")

// FitHoltWinters chooses the constants that minimise the one-step-ahead squared error over
// history (a coarse grid for the start, then Nelder-Mead on a logistic reparametrisation that
// keeps every constant in range) and returns a forecaster that has observed history.
func FitHoltWinters(history []float64, season int) (*HoltWinters, error) {
	if season < 1 {
		season = 1
	}
	need := 4
	if season > 1 {
		need = 3 * season
	}
	if len(history) < need {
		return nil, fmt.Errorf("%w: %d values for a season of %d ticks, want at least %d", errShortHistory, len(history), season, need)
	}
	best, bestCost := DefaultHoltWintersParams, math.Inf(1)
	for _, a := range []float64{0.1, 0.3, 0.6} {
		for _, b := range []float64{0.01, 0.1} {
			for _, g := range []float64{0.05, 0.3} {
				p := HoltWintersParams{Alpha: a, Beta: b, Gamma: g, Phi: 0.95}
				if c := sse(history, season, p); c < bestCost {
					best, bestCost = p, c
				}
			}
		}
	}
	problem := optimize.Problem{Func: func(u []float64) float64 {
		return sse(history, season, fromUnconstrained(u))
	}}
	res, err := optimize.Minimize(problem, toUnconstrained(best), &optimize.Settings{FuncEvaluations: 400}, &optimize.NelderMead{})
	if err == nil && res.F < bestCost {
		best = fromUnconstrained(res.X)
	}
	// A failed or stalled search still leaves the grid's best, which is a valid fit.
	hw := NewHoltWinters(season, best)
	for _, x := range history {
		hw.Observe(x)
	}
	return hw, nil
}

// Phi is kept in [phiMin, 1): below it the trend is too damped to matter, at 1 it explodes.
const phiMin = 0.8

func logistic(u float64) float64 { return 1 / (1 + math.Exp(-u)) }

func logit(p float64) float64 {
	p = math.Min(math.Max(p, 1e-6), 1-1e-6)
	return math.Log(p / (1 - p))
}

func fromUnconstrained(u []float64) HoltWintersParams {
	return HoltWintersParams{
		Alpha: logistic(u[0]),
		Beta:  logistic(u[1]),
		Gamma: logistic(u[2]),
		Phi:   phiMin + (1-phiMin)*logistic(u[3]),
	}
}

func toUnconstrained(p HoltWintersParams) []float64 {
	return []float64{logit(p.Alpha), logit(p.Beta), logit(p.Gamma), logit((p.Phi - phiMin) / (1 - phiMin))}
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
