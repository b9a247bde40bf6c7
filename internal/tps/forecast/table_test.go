package forecast_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"aya/internal/tps/forecast"
	"aya/internal/tps/sim"
)

// observedDemand samples what a pool sees of a service each tick: Poisson arrivals at the
// trace's rate, counted over the tick, as a rate per second.
func observedDemand(d *sim.Demand, svc int, tick, duration time.Duration, rng *rand.Rand) []float64 {
	n := int(duration / tick)
	out := make([]float64, n)
	sec := tick.Seconds()
	for k := range out {
		lambda := d.Rate(svc, time.Duration(k)*tick) * sec
		out[k] = poisson(lambda, rng) / sec
	}
	return out
}

func poisson(lambda float64, rng *rand.Rand) float64 {
	if lambda > 30 { // the normal approximation is within a percent here
		return math.Max(0, math.Round(lambda+math.Sqrt(lambda)*rng.NormFloat64()))
	}
	l, k, p := math.Exp(-lambda), 0.0, rng.Float64()
	for p > l {
		k++
		p *= rng.Float64()
	}
	return k
}

// TestForecastTable scores Holt-Winters and the LSTM against the naive forecast on held-out
// halves of the simulator's trace families (20 simulated minutes at a 500 ms tick, three
// services of the shipped partner mix, horizon 4 ticks = 2 s). Each forecaster is fitted on
// the first half of a service's series and scored on the second. The table it logs is the
// one in docs/tps.md ("Forecasting"); run with -v to see it.
func TestForecastTable(t *testing.T) {
	const (
		tick     = 500 * time.Millisecond
		duration = 20 * time.Minute
		h        = 4
	)
	services := sim.PartnerServices()[:3]
	trace := make([]sim.TraceService, len(services))
	for i, s := range services {
		trace[i] = sim.TraceService{Name: s.Name, Base: s.Base}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n| family | naive MAPE | naive sMAPE | Holt-Winters MAPE | Holt-Winters sMAPE | LSTM MAPE | LSTM sMAPE |\n|---|---|---|---|---|---|---|\n")
	var sumNaive, sumHW, sumLSTM float64
	families := []sim.Family{sim.Steady, sim.Diurnal, sim.Bursts, sim.FlashCrowd, sim.Drift}
	if raceEnabled {
		families = families[:1]
	}
	for fi, fam := range families {
		d, err := sim.GenerateTrace(fam, trace, duration, 42)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(uint64(fi), 1))
		var naive, hw, lstm forecast.Errors
		for svc := range services {
			series := observedDemand(d, svc, tick, duration, rng)
			split := len(series) / 2
			n := forecast.Evaluate(&forecast.Naive{}, series, split, h)
			f, err := forecast.FitHoltWinters(series[:split], 1)
			if err != nil {
				t.Fatal(err)
			}
			e := forecast.Evaluate(f, series[split:], 0, h)
			l := forecast.NewLSTM(forecast.LSTMConfig{Horizon: h, Epochs: 8, MaxWindows: 128, Seed: uint64(svc)})
			if err := l.Fit(series[:split]); err != nil {
				t.Fatal(err)
			}
			le := forecast.Evaluate(l, series[split:], 0, h)
			w := 1 / float64(len(services))
			naive.MAPE += w * n.MAPE
			naive.SMAPE += w * n.SMAPE
			hw.MAPE += w * e.MAPE
			hw.SMAPE += w * e.SMAPE
			lstm.MAPE += w * le.MAPE
			lstm.SMAPE += w * le.SMAPE
		}
		fmt.Fprintf(&b, "| %s | %.2f%% | %.2f%% | %.2f%% | %.2f%% | %.2f%% | %.2f%% |\n", fam, naive.MAPE, naive.SMAPE, hw.MAPE, hw.SMAPE, lstm.MAPE, lstm.SMAPE)
		sumNaive += naive.SMAPE
		sumHW += hw.SMAPE
		sumLSTM += lstm.SMAPE
	}
	t.Log(b.String())
	if sumHW >= sumNaive || sumLSTM >= sumNaive {
		n := float64(len(families))
		t.Errorf("mean sMAPE over families: naive %.2f%%, Holt-Winters %.2f%%, LSTM %.2f%%: want both below naive",
			sumNaive/n, sumHW/n, sumLSTM/n)
	}
}
