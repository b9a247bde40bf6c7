package forecast

import (
	"math"
	"math/rand/v2"
	"testing"
)

// seasonalSeries is a daily-like cycle with a slow trend and Poisson-like noise.
func seasonalSeries(n, season int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 9))
	out := make([]float64, n)
	for t := range out {
		base := 200 + 0.05*float64(t) + 120*math.Sin(2*math.Pi*float64(t)/float64(season))
		out[t] = math.Max(0, base+rng.NormFloat64()*math.Sqrt(base))
	}
	return out
}

func TestForecastersBeatNaiveOnSeasonalSeries(t *testing.T) {
	const season, h = 48, 4
	series := seasonalSeries(960, season, 1)
	train, split := series[:480], 480
	naive := Evaluate(&Naive{}, series, split, h)

	hw, err := FitHoltWinters(train, season)
	if err != nil {
		t.Fatal(err)
	}
	// hw already observed train; evaluate from the split without observing it again.
	hwErr := Evaluate(hw, series[split:], 0, h)

	l := NewLSTM(LSTMConfig{Season: season, Horizon: h, Epochs: 20, Seed: 1})
	if err := l.Fit(train); err != nil {
		t.Fatal(err)
	}
	lstmErr := Evaluate(l, series[split:], 0, h)

	t.Logf("naive %+v, holt-winters %+v (%+v), lstm %+v", naive, hwErr, hw.Params(), lstmErr)
	for name, e := range map[string]Errors{"holt-winters": hwErr, "lstm": lstmErr} {
		if e.SMAPE >= naive.SMAPE || e.MAPE >= naive.MAPE {
			t.Errorf("%s: sMAPE %.2f%% MAPE %.2f%%, naive %.2f%% %.2f%%: want lower", name, e.SMAPE, e.MAPE, naive.SMAPE, naive.MAPE)
		}
	}
}

func TestHoltWintersTracksExactSeason(t *testing.T) {
	// A noiseless season with a linear trend is forecast almost exactly once fitted.
	series := make([]float64, 200)
	for i := range series {
		series[i] = 100 + float64(i) + 10*float64(i%5)
	}
	hw, err := FitHoltWinters(series[:150], 5)
	if err != nil {
		t.Fatal(err)
	}
	fc := hw.Forecast(5)
	for k, p := range fc {
		if d := math.Abs(p - series[150+k]); d > 2 {
			t.Errorf("h=%d: forecast %.2f, actual %.2f", k+1, p, series[150+k])
		}
	}
}

func TestShortHistory(t *testing.T) {
	if _, err := FitHoltWinters(make([]float64, 10), 48); err == nil {
		t.Error("FitHoltWinters on 10 values with a season of 48: want an error")
	}
	if err := NewLSTM(LSTMConfig{}).Fit(make([]float64, 5)); err == nil {
		t.Error("LSTM Fit on 5 values: want an error")
	}
	// Unfitted forecasters fall back to the last value.
	for name, f := range map[string]Forecaster{"hw": NewHoltWinters(48, DefaultHoltWintersParams), "lstm": NewLSTM(LSTMConfig{})} {
		f.Observe(3)
		f.Observe(7)
		if got := f.Forecast(2); got[0] != 7 || got[1] != 7 {
			t.Errorf("%s unfitted: Forecast = %v, want [7 7]", name, got)
		}
	}
}

func TestErrorMetrics(t *testing.T) {
	tests := []struct {
		name              string
		actual, predicted []float64
		mape, smape       float64
	}{
		{"exact", []float64{1, 2}, []float64{1, 2}, 0, 0},
		{"half", []float64{100}, []float64{50}, 50, 200.0 / 3},
		{"zero actual skipped by MAPE", []float64{0, 10}, []float64{5, 10}, 0, 100},
		{"both zero", []float64{0}, []float64{0}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s errorSums
			for i := range tt.actual {
				s.add(tt.actual[i], tt.predicted[i])
			}
			e := s.errors()
			if math.Abs(e.MAPE-tt.mape) > 1e-9 || math.Abs(e.SMAPE-tt.smape) > 1e-9 {
				t.Errorf("MAPE %.4f sMAPE %.4f, want %.4f %.4f", e.MAPE, e.SMAPE, tt.mape, tt.smape)
			}
		})
	}
}

func BenchmarkHoltWintersForecastInto(b *testing.B) {
	hw, err := FitHoltWinters(seasonalSeries(480, 48, 2), 48)
	if err != nil {
		b.Fatal(err)
	}
	out := make([]float64, 4)
	b.ReportAllocs()
	for b.Loop() {
		hw.Observe(250)
		hw.ForecastInto(out)
	}
}
