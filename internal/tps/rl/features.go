package rl

import (
	"math"

	"aya/internal/tps"
	"aya/internal/tps/forecast"
)

// The policy's inputs. Every rate is divided by the effective capacity, so a model trained
// on a 1500 TPS pool reads a 150 TPS pool the same way.
const (
	// serviceFeatures per service: demand, forecast, forecast minus demand, queue (as a rate
	// over one tick), rejections this tick and their recent average, served, the base
	// (waterfill) allocation, min, max, priority one-hot (4), demand of the higher priorities,
	// of the other services of the same priority, of the whole pool, upstream 429s.
	serviceFeatures = 18
	// poolFeatures for the critic: per priority level the sums of demand, forecast, queue,
	// rejections and base allocation (4×5), the pool's demand, upstream 429s.
	poolFeatures = 22
	// forecastHorizon is how many ticks ahead the forecast feature averages.
	forecastHorizon = 4
)

// forecastParams smooth per-tick Poisson counts: a slow level, a slower damped trend.
var forecastParams = forecast.HoltWintersParams{Alpha: 0.3, Beta: 0.05, Phi: 0.9}

// tracker is the state features need beyond one observation: a forecaster and the recent
// rejections per service, and how wrong the forecasts have been.
type tracker struct {
	fc       []*forecast.HoltWinters
	next     []float64 // the one-step forecast made last tick, per service
	fcMean   []float64 // mean forecast over the next forecastHorizon ticks, per service
	rejAvg   []float64
	queue    []float64 // queue as a rate over one tick
	horizon  [forecastHorizon]float64
	err      float64 // last tick's pool-wide forecast error (sMAPE over the demand sum, 0..2)
	errAvg   float64 // its exponential average
	warm     int     // ticks observed
	services int
}

func newTracker(n int) *tracker {
	t := &tracker{
		fc: make([]*forecast.HoltWinters, n), next: make([]float64, n), fcMean: make([]float64, n),
		rejAvg: make([]float64, n), queue: make([]float64, n), services: n,
	}
	for i := range t.fc {
		t.fc[i] = forecast.NewHoltWinters(1, forecastParams)
	}
	return t
}

// observe scores last tick's forecasts against the demand just seen and advances the
// forecasters.
func (t *tracker) observe(obs *tps.Observation) {
	sec := obs.Tick.Seconds()
	if sec <= 0 {
		sec = 1
	}
	var absErr, scale float64
	for i := range obs.Stats {
		st := &obs.Stats[i]
		if t.warm > 0 {
			absErr += math.Abs(st.Demand - t.next[i])
			scale += (st.Demand + t.next[i]) / 2
		}
		t.fc[i].Observe(st.Demand)
		t.fc[i].ForecastInto(t.horizon[:])
		t.next[i] = t.horizon[0]
		sum := 0.0
		for _, v := range t.horizon {
			sum += v
		}
		t.fcMean[i] = sum / forecastHorizon
		t.rejAvg[i] = 0.8*t.rejAvg[i] + 0.2*st.Rejected
		t.queue[i] = float64(st.Queued) / sec
	}
	t.err = 0
	if scale > 0 {
		t.err = absErr / scale
	}
	if t.warm > 0 {
		t.errAvg = 0.9*t.errAvg + 0.1*t.err
	}
	t.warm++
}

// features writes the per-service inputs (n × serviceFeatures) into ents and the pool-wide
// ones into pool, given the base allocation.
func (t *tracker) features(obs *tps.Observation, base, ents, pool []float64) {
	c := obs.Capacity
	if c <= 0 {
		c = 1
	}
	var byPrio [4]float64
	total := 0.0
	for i, st := range obs.Stats {
		d := st.Demand + t.queue[i]
		byPrio[obs.Services[i].Priority&3] += d
		total += d
	}
	up := 0.0
	if obs.Upstream429 > 0 {
		up = 1
	}
	clear(pool)
	for i, st := range obs.Stats {
		svc := obs.Services[i]
		p := int(svc.Priority & 3)
		f := ents[i*serviceFeatures : (i+1)*serviceFeatures]
		higher := 0.0
		for q := range p {
			higher += byPrio[q]
		}
		mx := svc.Max
		if mx <= 0 {
			mx = c
		}
		f[0] = st.Demand / c
		f[1] = t.fcMean[i] / c
		f[2] = (t.fcMean[i] - st.Demand) / c
		f[3] = t.queue[i] / c
		f[4] = st.Rejected / c
		f[5] = t.rejAvg[i] / c
		f[6] = st.Served / c
		f[7] = base[i] / c
		f[8] = svc.Min / c
		f[9] = mx / c
		for q := range 4 {
			f[10+q] = 0
		}
		f[10+p] = 1
		f[14] = higher / c
		f[15] = (byPrio[p] - st.Demand - t.queue[i]) / c
		f[16] = total / c
		f[17] = up

		g := pool[p*5 : p*5+5]
		g[0] += f[0]
		g[1] += f[1]
		g[2] += f[3]
		g[3] += f[4]
		g[4] += f[7]
	}
	pool[20] = total / c
	pool[21] = up
}
