package balance

import (
	"math"
	"testing"
	"time"
)

func TestTargetEstimate(t *testing.T) {
	const ms = float64(time.Millisecond)
	e := math.Exp(-1)
	type answer struct {
		at      time.Duration // since the start of the test clock
		latency time.Duration
		failed  bool
	}
	tests := []struct {
		name    string
		answers []answer
		readAt  time.Duration
		busy    bool
		want    float64
	}{
		{"never answered", nil, 0, false, 0},
		{"never answered, busy", nil, time.Hour, true, 0},
		{"first answer", []answer{{0, 10 * time.Millisecond, false}}, 0, false, 10 * ms},
		{"zero latency still counts as measured", []answer{{0, 0, false}}, 0, false, 1},
		{"worse answer is believed at once",
			[]answer{{0, 10 * time.Millisecond, false}, {0, 50 * time.Millisecond, false}}, 0, false, 50 * ms},
		{"better answer right after barely counts",
			[]answer{{0, 50 * time.Millisecond, false}, {0, 10 * time.Millisecond, false}}, 0, false, 50 * ms},
		{"better answer after decayTime counts 1-1/e",
			[]answer{{0, 50 * time.Millisecond, false}, {decayTime, 10 * time.Millisecond, false}}, decayTime, false,
			50*ms*e + 10*ms*(1-e)},
		{"better answer after a long gap replaces",
			[]answer{{0, 50 * time.Millisecond, false}, {100 * decayTime, 10 * time.Millisecond, false}}, 100 * decayTime, false,
			10 * ms},
		{"idle estimate fades",
			[]answer{{0, 100 * time.Millisecond, false}}, decayTime, false, 100 * ms * e},
		{"busy estimate does not fade",
			[]answer{{0, 100 * time.Millisecond, false}}, decayTime, true, 100 * ms},
		{"fast failure counts as failurePenalty",
			[]answer{{0, 10 * time.Millisecond, false}, {time.Second, time.Millisecond, true}}, time.Second, false,
			float64(failurePenalty)},
		{"slow failure counts its latency",
			[]answer{{0, 3 * time.Second, true}}, 0, false, float64(3 * time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := NewTarget("a", 1)
			for _, a := range tt.answers {
				tg.Begin()
				tg.endAt(int64(a.at), a.latency, a.failed)
			}
			inflight := int64(0)
			if tt.busy {
				tg.Begin()
				inflight = 1
			}
			got := tg.estimate(int64(tt.readAt), inflight)
			if math.Abs(got-tt.want) > 1e-9*max(tt.want, 1) {
				t.Fatalf("estimate = %.0fns, want %.0fns", got, tt.want)
			}
			if tg.InFlight() != inflight {
				t.Fatalf("InFlight = %d, want %d", tg.InFlight(), inflight)
			}
		})
	}
}

func TestTargetLatencyRealClock(t *testing.T) {
	tg := NewTarget("a", 1)
	if tg.Latency() != 0 {
		t.Fatalf("Latency before any answer = %v, want 0", tg.Latency())
	}
	tg.Begin()
	tg.End(20*time.Millisecond, false)
	if got := tg.Latency(); got <= 19*time.Millisecond || got > 20*time.Millisecond {
		t.Fatalf("Latency right after a 20ms answer = %v, want just under 20ms", got)
	}
}

// fakeClock is a test clock for leastTime.
type fakeClock struct{ now int64 }

func (c *fakeClock) read() int64 { return c.now }

func TestLeastTimeTriesUnmeasured(t *testing.T) {
	clock := &fakeClock{}
	b := &leastTime{now: clock.read}
	targets := targetsOf(1, 1, 1)
	for _, tg := range targets[:2] {
		tg.Begin()
		tg.endAt(0, 10*time.Millisecond, false)
	}
	fresh := targets[2]
	count := func() int {
		n := 0
		for range 3000 {
			if b.Pick(nil, targets) == fresh {
				n++
			}
		}
		return n
	}
	// Idle and never measured, it wins every pair it is drawn into: 2/3 of the picks.
	if n := count(); n < 1800 {
		t.Fatalf("unmeasured idle target picked %d of 3000 times, want about 2000", n)
	}
	// Probed and not answered yet, it waits for that answer.
	fresh.Begin()
	if n := count(); n != 0 {
		t.Fatalf("unmeasured busy target picked %d times, want 0", n)
	}
}

// leastTimeSim is a closed-loop simulation on a fake clock: clients each keep one request in
// flight, and a request to target i takes latency[i] as of when it was picked.
type leastTimeSim struct {
	clock    fakeClock
	b        *leastTime
	targets  []*Target
	latency  []time.Duration
	inflight []simRequest
}

type simRequest struct {
	done   int64
	target int
}

func newLeastTimeSim(clients int, latency ...time.Duration) *leastTimeSim {
	s := &leastTimeSim{targets: targetsOf(make([]int, len(latency))...), latency: latency}
	s.b = &leastTime{now: s.clock.read}
	for range clients {
		s.start()
	}
	return s
}

func (s *leastTimeSim) start() int {
	p := s.b.Pick(nil, s.targets)
	i := indexOf(s.targets, p)
	p.Begin()
	s.inflight = append(s.inflight, simRequest{s.clock.now + int64(s.latency[i]), i})
	return i
}

// run advances the clock by d and returns how many requests each target got.
func (s *leastTimeSim) run(d time.Duration) []int {
	counts := make([]int, len(s.targets))
	end := s.clock.now + int64(d)
	for {
		first := 0
		for k, r := range s.inflight {
			if r.done < s.inflight[first].done {
				first = k
			}
		}
		r := s.inflight[first]
		if r.done > end {
			s.clock.now = end
			return counts
		}
		s.clock.now = r.done
		s.inflight = append(s.inflight[:first], s.inflight[first+1:]...)
		s.targets[r.target].endAt(s.clock.now, s.latency[r.target], false)
		counts[s.start()]++
	}
}

func share(counts []int, i int) float64 {
	total := 0
	for _, c := range counts {
		total += c
	}
	return float64(counts[i]) / float64(total)
}

// TestLeastTimeSlowTargetRecovers: of three targets, one answers 10x slower; it should get a
// small share, and once it is fast again, get its fair third back within a few decay times.
func TestLeastTimeSlowTargetRecovers(t *testing.T) {
	fast, slow := 10*time.Millisecond, 100*time.Millisecond
	s := newLeastTimeSim(8, fast, fast, slow)
	s.run(10 * time.Second) // warm up
	if got := share(s.run(60*time.Second), 2); got > 0.02 {
		t.Fatalf("10x slower target got %.3f of the requests, want at most 0.02", got)
	}
	s.latency[2] = fast
	s.run(4 * decayTime)
	if got := share(s.run(20*time.Second), 2); got < 0.28 {
		t.Fatalf("recovered target got %.3f of the requests, want about 1/3 (at least 0.28)", got)
	}
}
