package sim

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"time"
)

// Family is a shape of demand over time, used to generate traces for training and for the
// shipped scenarios.
type Family string

// The trace families.
const (
	// Steady holds each service near its base rate, with slow noise.
	Steady Family = "steady"
	// Diurnal swings each service around its base like a day compressed into the trace,
	// peaks of different services slightly apart.
	Diurnal Family = "diurnal"
	// Bursts adds short rectangular bursts (5–30 s, +100–250%) at random times per service.
	Bursts Family = "bursts"
	// FlashCrowd hits one or two services with a sudden 3–6× surge that decays over minutes.
	FlashCrowd Family = "flash-crowd"
	// Drift moves each service's level steadily from its base to between 0.4× and 2.5× of it,
	// so the mix of demand shifts over the trace.
	Drift Family = "drift"
)

// Families lists every trace family.
func Families() []Family { return []Family{Steady, Diurnal, Bursts, FlashCrowd, Drift} }

// TraceService is a service to generate demand for: its name and its typical rate in
// requests per second.
type TraceService struct {
	Name string
	Base float64
}

// traceStep is how often a generated rate changes; 2 s keeps a 20-minute CSV of six services
// near 100 KB while still moving faster than any allocator's reaction time matters.
const traceStep = 2 * time.Second

// GenerateTrace makes a demand trace of one family. The same arguments always give the same
// trace; the family is mixed into the seed so that families with one seed differ.
func GenerateTrace(family Family, services []TraceService, duration time.Duration, seed uint64) (*Demand, error) {
	if duration < traceStep {
		return nil, fmt.Errorf("trace %s: duration %v is shorter than one step (%v)", family, duration, traceStep)
	}
	shape, err := shapeOf(family)
	if err != nil {
		return nil, err
	}
	h := fnv.New64a()
	h.Write([]byte(family))
	rng := rand.New(rand.NewPCG(seed, h.Sum64()))
	steps := int(duration / traceStep)
	names := make([]string, len(services))
	rows := make([]DemandRow, 0, steps*len(services))
	shapes := shape(rng, steps, len(services))
	for i, svc := range services {
		names[i] = svc.Name
		f := shapes[i]
		noise := 0.0
		for k := range steps {
			// AR(1) noise in log space: smooth ±10% wander, not white jitter.
			noise = 0.9*noise + 0.045*rng.NormFloat64()
			rps := svc.Base * f(k) * math.Exp(noise)
			rows = append(rows, DemandRow{
				T:       time.Duration(k) * traceStep,
				Service: svc.Name,
				RPS:     math.Round(max(rps, 0)*10) / 10,
			})
		}
	}
	return NewDemand(names, rows)
}

// shapeFunc draws every service's shape: a multiplier of its base rate per step.
type shapeFunc func(rng *rand.Rand, steps, nsvc int) []func(step int) float64

// perService makes a shapeFunc whose services draw their shapes independently.
func perService(one func(rng *rand.Rand, steps int) func(int) float64) shapeFunc {
	return func(rng *rand.Rand, steps, nsvc int) []func(int) float64 {
		fs := make([]func(int) float64, nsvc)
		for i := range fs {
			fs[i] = one(rng, steps)
		}
		return fs
	}
}

func shapeOf(f Family) (shapeFunc, error) {
	switch f {
	case Steady:
		return perService(steadyShape), nil
	case Diurnal:
		return perService(diurnalShape), nil
	case Bursts:
		return perService(burstShape), nil
	case FlashCrowd:
		return flashShapes, nil
	case Drift:
		return perService(driftShape), nil
	}
	return nil, fmt.Errorf("trace family %q: want one of steady, diurnal, bursts, flash-crowd, drift", f)
}

func steadyShape(*rand.Rand, int) func(int) float64 {
	return func(int) float64 { return 1 }
}

func diurnalShape(rng *rand.Rand, steps int) func(int) float64 {
	amp := 0.4 + 0.3*rng.Float64()
	// Start near the trough, peak around the middle, each service offset a little.
	phase := -math.Pi/2 + 0.8*(2*rng.Float64()-1)
	return func(k int) float64 {
		return 1 + amp*math.Sin(2*math.Pi*float64(k)/float64(steps)+phase)
	}
}

func burstShape(rng *rand.Rand, steps int) func(int) float64 {
	extra := make([]float64, steps)
	stepSec := traceStep.Seconds()
	for t := rng.ExpFloat64() * 75; t < float64(steps)*stepSec; t += 20 + rng.ExpFloat64()*75 {
		length := 5 + 25*rng.Float64()
		amp := 1 + 1.5*rng.Float64()
		for k := int(t / stepSec); k < steps && float64(k)*stepSec < t+length; k++ {
			extra[k] = max(extra[k], amp)
		}
		t += length
	}
	return func(k int) float64 { return 1 + extra[k] }
}

// flashShapes surges one random service and, half the time, a second one (its neighbour in
// the list) at another moment.
func flashShapes(rng *rand.Rand, steps, nsvc int) []func(int) float64 {
	fs := make([]func(int) float64, nsvc)
	for i := range fs {
		fs[i] = steadyShape(rng, steps)
	}
	hit := rng.IntN(nsvc)
	fs[hit] = surge(rng, steps)
	if nsvc > 1 && rng.Float64() < 0.5 {
		fs[(hit+1)%nsvc] = surge(rng, steps)
	}
	return fs
}

// surge rises linearly over 10–20 s to 3–6× the base, starting between 20% and 60% of the
// trace, then decays exponentially with a time constant of one to three minutes.
func surge(rng *rand.Rand, steps int) func(int) float64 {
	stepSec := traceStep.Seconds()
	start := (0.2 + 0.4*rng.Float64()) * float64(steps) * stepSec
	rise := 10 + 10*rng.Float64()
	tau := 60 + 120*rng.Float64()
	amp := 2 + 3*rng.Float64()
	return func(k int) float64 {
		t := float64(k) * stepSec
		switch {
		case t < start:
			return 1
		case t < start+rise:
			return 1 + amp*(t-start)/rise
		default:
			return 1 + amp*math.Exp(-(t-start-rise)/tau)
		}
	}
}

func driftShape(rng *rand.Rand, steps int) func(int) float64 {
	end := math.Log(0.4 + 2.1*rng.Float64())
	return func(k int) float64 {
		return math.Exp(end * float64(k) / float64(steps))
	}
}
