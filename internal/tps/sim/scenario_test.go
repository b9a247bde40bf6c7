package sim

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"aya/internal/tps"
)

// writeScenario writes a scenario and, when csv is not empty, demand.csv beside it.
func writeScenario(t *testing.T, yaml, csv string) string {
	t.Helper()
	dir := t.TempDir()
	if csv != "" {
		if err := os.WriteFile(filepath.Join(dir, "demand.csv"), []byte(csv), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const goodCSV = "t,service,rps\n0,pay,100\n0,rep,50\n30,pay,200\n60,rep,0\n"

func TestLoadGood(t *testing.T) {
	yaml := `capacity: 300
tick: 250ms
services:
  - {name: pay, priority: critical, min: 50}
  - {name: rep, priority: LOW, min: 10, max: 200}
demand: demand.csv
`
	s, err := Load(writeScenario(t, yaml, goodCSV))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "s" || s.Capacity != 300 || s.Tick != 250*time.Millisecond {
		t.Errorf("got name %q capacity %v tick %v", s.Name, s.Capacity, s.Tick)
	}
	if s.Duration != 60*time.Second {
		t.Errorf("duration %v, want the last t in the CSV (60s)", s.Duration)
	}
	if s.Queue != (QueueSpec{Max: 2000, Timeout: 2 * time.Second}) {
		t.Errorf("queue %+v, want the defaults", s.Queue)
	}
	want := []tps.Service{{Name: "pay", Priority: tps.Critical, Min: 50}, {Name: "rep", Priority: tps.Low, Min: 10, Max: 200}}
	for i := range want {
		if s.Services[i] != want[i] {
			t.Errorf("service %d: %+v, want %+v", i, s.Services[i], want[i])
		}
	}
	for _, c := range []struct {
		svc  int
		at   time.Duration
		want float64
	}{{0, 0, 100}, {0, 29 * time.Second, 100}, {0, 30 * time.Second, 200}, {0, time.Hour, 200}, {1, 59 * time.Second, 50}, {1, 60 * time.Second, 0}} {
		if got := s.Demand.Rate(c.svc, c.at); got != c.want {
			t.Errorf("rate(%d, %v) = %v, want %v", c.svc, c.at, got, c.want)
		}
	}
}

func TestLoadOptionalFields(t *testing.T) {
	yaml := `capacity: 300
tick: 1
duration: 90s
queue: {max: 1, timeout: 500ms}
upstream_capacity: 250
margin: 0.05
services: [{name: pay, priority: high, min: 0}]
demand: demand.csv
`
	s, err := Load(writeScenario(t, yaml, "t,service,rps\n0,pay,10\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Tick != time.Second || s.Duration != 90*time.Second || s.Queue != (QueueSpec{Max: 1, Timeout: 500 * time.Millisecond}) || s.UpstreamCapacity != 250 || s.Margin != 0.05 {
		t.Errorf("tick %v duration %v queue %+v", s.Tick, s.Duration, s.Queue)
	}
}

func TestLoadBad(t *testing.T) {
	const head = "capacity: 300\ntick: 500ms\n"
	const svcs = "services:\n  - {name: pay, priority: critical, min: 50}\n  - {name: rep, priority: low}\n"
	cases := []struct {
		name, yaml, csv string
		want            []string // substrings of the error, each with its file:line
	}{
		{"mins above capacity", "capacity: 100\ntick: 1s\nservices:\n  - {name: a, priority: high, min: 60}\n  - {name: b, priority: low, min: 60}\ndemand: demand.csv\n", goodCSV,
			[]string{"s.yaml:4: the services' mins add up to 120, more than the capacity 100"}},
		{"bad priority", head + "services:\n  - {name: pay, priority: urgent}\ndemand: demand.csv\n", goodCSV,
			[]string{`s.yaml:4: service "pay": priority "urgent": want critical, high, medium or low`}},
		{"unknown service in CSV", head + svcs + "demand: demand.csv\n", "t,service,rps\n0,pay,1\n5,search,3\n",
			[]string{`demand.csv:3: unknown service "search"`}},
		{"bad CSV numbers", head + svcs + "demand: demand.csv\n", "t,service,rps\n-1,pay,1\n0,rep,x\n",
			[]string{`demand.csv:2: t "-1"`, `demand.csv:3: rps "x"`}},
		{"CSV header", head + svcs + "demand: demand.csv\n", "time,svc,rate\n0,pay,1\n",
			[]string{`demand.csv:1: header is "time,svc,rate", want t,service,rps`}},
		{"CSV duplicate", head + svcs + "demand: demand.csv\n", "t,service,rps\n0,pay,1\n0,pay,2\n",
			[]string{`demand.csv:3: second row for service "pay" at t=0 (first on line 2)`}},
		{"CSV missing", head + svcs + "demand: nope.csv\n", "",
			[]string{"s.yaml:6: demand: open", "relative to the scenario file"}},
		{"no demand key", head + svcs, goodCSV, []string{"s.yaml: demand: missing"}},
		{"zero capacity", "capacity: 0\ntick: 1s\n" + svcs + "demand: demand.csv\n", goodCSV, []string{"s.yaml:1: capacity: 0"}},
		{"bad tick", "capacity: 300\ntick: soon\n" + svcs + "demand: demand.csv\n", goodCSV, []string{`s.yaml:2: tick: "soon" is not a positive duration`}},
		{"missing tick", "capacity: 300\n" + svcs + "demand: demand.csv\n", goodCSV, []string{"s.yaml: tick: missing"}},
		{"bad queue timeout", head + "queue: {max: 10, timeout: -1s}\n" + svcs + "demand: demand.csv\n", goodCSV, []string{`s.yaml:3: queue.timeout: "-1s"`}},
		{"zero queue max", head + "queue: {max: 0}\n" + svcs + "demand: demand.csv\n", goodCSV, []string{"s.yaml:3: queue.max: 0; want at least 1"}},
		{"margin of one", head + "margin: 1\n" + svcs + "demand: demand.csv\n", goodCSV, []string{"s.yaml:3: margin: 1; want a fraction in [0, 1)"}},
		{"negative upstream capacity", head + "upstream_capacity: -5\n" + svcs + "demand: demand.csv\n", goodCSV, []string{"s.yaml:3: upstream_capacity: -5"}},
		{"duplicate service", head + "services:\n  - {name: a, priority: high}\n  - {name: a, priority: low}\ndemand: demand.csv\n", goodCSV,
			[]string{`s.yaml:5: service "a" listed twice`}},
		{"max below min", head + "services:\n  - {name: a, priority: high, min: 50, max: 10}\ndemand: demand.csv\n", goodCSV,
			[]string{`s.yaml:4: service "a": max 10 is below its min 50`}},
		{"negative min", head + "services:\n  - {name: a, priority: high, min: -1}\ndemand: demand.csv\n", goodCSV,
			[]string{`s.yaml:4: service "a": min -1`}},
		{"no services", head + "services: []\ndemand: demand.csv\n", goodCSV, []string{"s.yaml:3: services: none"}},
		{"unknown key", head + "capacty: 3\n" + svcs + "demand: demand.csv\n", goodCSV, []string{`s.yaml:3:`, `unknown field "capacty"`}},
		{"wrong type", "capacity: lots\ntick: 1s\n" + svcs + "demand: demand.csv\n", goodCSV, []string{"s.yaml:1:"}},
		{"syntax", "capacity: [1\n", goodCSV, []string{"s.yaml:1:"}},
		{"empty", "", goodCSV, []string{"s.yaml: empty scenario"}},
		{"only t=0 rows", head + svcs + "demand: demand.csv\n", "t,service,rps\n0,pay,1\n", []string{"s.yaml: duration: the demand file only has rows at t=0"}},
		{"tick above duration", "capacity: 300\ntick: 2m\nduration: 1m\n" + svcs + "demand: demand.csv\n", goodCSV, []string{"s.yaml:2: tick: 2m0s is longer than the duration 1m0s"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeScenario(t, c.yaml, c.csv)
			_, err := Load(path)
			if err == nil {
				t.Fatal("loaded; want an error")
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error %T %v, want Problems", err, err)
			}
			msg := strings.ReplaceAll(err.Error(), filepath.Dir(path)+string(filepath.Separator), "")
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error\n%s\nlacks %q", msg, w)
				}
			}
		})
	}
}

func TestValidateInMemory(t *testing.T) {
	s, err := GenerateScenario(GenSpec{Family: Steady, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	s.Services[0].Min = 5000
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "mins add up to") {
		t.Errorf("Validate = %v, want the mins problem", err)
	}
}

func TestWriteFilesRoundTrip(t *testing.T) {
	s, err := GenerateScenario(GenSpec{Family: Bursts, Seed: 3, Duration: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "b.yaml")
	if err := s.WriteFiles(p); err != nil {
		t.Fatal(err)
	}
	back, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if back.Capacity != s.Capacity || back.Tick != s.Tick || back.Duration != s.Duration || back.Queue != s.Queue || back.Description != s.Description {
		t.Errorf("round trip changed the header: %+v vs %+v", back, s)
	}
	for i := range s.Services {
		if back.Services[i] != s.Services[i] {
			t.Errorf("service %d: %+v, want %+v", i, back.Services[i], s.Services[i])
		}
	}
	for i := range s.Services {
		for at := time.Duration(0); at < s.Duration; at += 700 * time.Millisecond {
			if a, b := back.Demand.Rate(i, at), s.Demand.Rate(i, at); a != b {
				t.Fatalf("rate(%d, %v): %v after the round trip, %v before", i, at, a, b)
			}
		}
	}
}
