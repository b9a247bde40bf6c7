// Package forecast predicts a service's demand (arrival rate per tick) for the next few ticks,
// so that allocators can give capacity ahead of a rise instead of one tick after it.
//
// Every forecaster sees one number per tick through Observe and answers Forecast(h) with the
// next h values. Holt-Winters (additive level, damped trend and season) is cheap and fits its
// smoothing constants on the history; the LSTM is a small recurrent net trained by
// backpropagation through time on windows of the history. Naive (the last value) is the
// baseline both must beat, measured by MAPE and sMAPE in Evaluate.
//
// The package knows nothing of pools, allocators or the simulator: it works on plain series.
package forecast

// Forecaster predicts the next values of one series from the values observed so far.
type Forecaster interface {
	// Observe adds the value of the tick that just ended.
	Observe(x float64)
	// Forecast returns the predicted values of the next h ticks (index 0 is the next tick).
	Forecast(h int) []float64
}

// Naive forecasts that the last observed value repeats: the baseline a forecaster must beat.
type Naive struct {
	last float64
}

// Observe records x as the value to repeat.
func (n *Naive) Observe(x float64) { n.last = x }

// Forecast repeats the last value h times.
func (n *Naive) Forecast(h int) []float64 {
	out := make([]float64, h)
	for i := range out {
		out[i] = n.last
	}
	return out
}
