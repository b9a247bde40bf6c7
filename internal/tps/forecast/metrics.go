package forecast

import "math"

// Errors are the forecast errors of one forecaster on one series, in percent.
type Errors struct {
	MAPE  float64 // mean |actual-forecast| / |actual|, over actual values that are not 0
	SMAPE float64 // mean 2|actual-forecast| / (|actual|+|forecast|); 0 when both are 0
	N     int     // forecasts scored
}

// errorSums accumulates absolute percentage errors.
type errorSums struct {
	ape, sape   float64
	nAPE, nSAPE int
}

func (s *errorSums) add(actual, predicted float64) {
	d := math.Abs(actual - predicted)
	if actual != 0 {
		s.ape += d / math.Abs(actual)
		s.nAPE++
	}
	if den := math.Abs(actual) + math.Abs(predicted); den > 0 {
		s.sape += 2 * d / den
	}
	s.nSAPE++
}

func (s *errorSums) errors() Errors {
	e := Errors{N: s.nSAPE}
	if s.nAPE > 0 {
		e.MAPE = 100 * s.ape / float64(s.nAPE)
	}
	if s.nSAPE > 0 {
		e.SMAPE = 100 * s.sape / float64(s.nSAPE)
	}
	return e
}

// Evaluate scores f on a rolling origin over series[from:]: f first observes series[:from]
// (already fitted or not, as the caller prepared it), then at each later tick t it forecasts h
// ticks, every forecast value that falls inside the series is scored against the actual one,
// and f observes series[t]. Errors are averaged over all horizons 1..h.
func Evaluate(f Forecaster, series []float64, from, h int) Errors {
	var s errorSums
	for _, x := range series[:from] {
		f.Observe(x)
	}
	for t := from; t < len(series); t++ {
		fc := f.Forecast(h)
		for k, p := range fc {
			if t+k < len(series) {
				s.add(series[t+k], p)
			}
		}
		f.Observe(series[t])
	}
	return s.errors()
}
