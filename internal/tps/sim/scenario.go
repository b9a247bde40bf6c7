package sim

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"aya/internal/tps"
)

// Scenario is one simulated setting: a shared capacity, the services that call it and their
// demand over time.
type Scenario struct {
	Name        string // the file's base name without extension, for reports
	Description string
	Capacity    float64 // the pool's configured capacity in requests per second
	// UpstreamCapacity is the partner's real cap, when it differs from what the pool was told
	// (0: the same as Capacity). Lower, it exercises the feedback path: upstream 429s make the
	// pool lower its effective capacity.
	UpstreamCapacity float64
	// Margin is the fraction of Capacity the pool keeps free for jitter, as in a live pool's
	// config; 0 means the pool's default (2%).
	Margin   float64
	Tick     time.Duration
	Duration time.Duration
	Services []tps.Service
	Queue    QueueSpec
	Demand   *Demand // indexed like Services
}

// upstreamCap is the cap the simulated upstream enforces.
func (s *Scenario) upstreamCap() float64 {
	if s.UpstreamCapacity > 0 {
		return s.UpstreamCapacity
	}
	return s.Capacity
}

// QueueSpec bounds the admission queue: at most Max waiting requests in total, each waiting
// at most Timeout before aya rejects it.
type QueueSpec struct {
	Max     int
	Timeout time.Duration
}

// rawScenario is the file's shape; durations stay text so that a bad one is reported with its
// line (the YAML decoder's own duration errors carry no position).
type rawScenario struct {
	Description string       `yaml:"description"`
	Capacity    float64      `yaml:"capacity"`
	UpstreamCap float64      `yaml:"upstream_capacity"`
	Margin      float64      `yaml:"margin"`
	Tick        string       `yaml:"tick"`
	Duration    string       `yaml:"duration"`
	Services    []rawService `yaml:"services"`
	Queue       *rawQueue    `yaml:"queue"`
	Demand      string       `yaml:"demand"`
}

type rawService struct {
	Name     string  `yaml:"name"`
	Priority string  `yaml:"priority"`
	Min      float64 `yaml:"min"`
	Max      float64 `yaml:"max"`
}

type rawQueue struct {
	Max     *int   `yaml:"max"`
	Timeout string `yaml:"timeout"`
}

// maxScenarioFile bounds what Load reads; scenarios are a screen of YAML.
const maxScenarioFile = 1 << 20

// Load reads a scenario file and the demand CSV it names (relative to the scenario's
// directory). All problems found are returned together as Problems, each with file:line.
func Load(path string) (*Scenario, error) {
	data, err := readLimited(path, maxScenarioFile)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	return parse(path, data)
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d a scenario may have", path, st.Size(), limit)
	}
	return os.ReadFile(path)
}

func parse(path string, data []byte) (*Scenario, error) {
	var ps Problems
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		ps.add(path, yamlErrLine(err), "%s", yamlErrMsg(err))
		return nil, ps
	}
	if len(file.Docs) == 0 || file.Docs[0].Body == nil {
		ps.add(path, 0, "empty scenario: want capacity, tick, services and demand")
		return nil, ps
	}
	var raw rawScenario
	if err := yaml.NodeToValue(file.Docs[0].Body, &raw, yaml.DisallowUnknownField()); err != nil {
		ps.add(path, yamlErrLine(err), "%s", yamlErrMsg(err))
		return nil, ps
	}
	lineOf := func(p string) int { return nodeLine(file, p) }
	report := func(p, format string, args ...any) { ps.add(path, lineOf(p), format, args...) }

	s := &Scenario{
		Name:             strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)),
		Description:      raw.Description,
		Capacity:         raw.Capacity,
		UpstreamCapacity: raw.UpstreamCap,
		Margin:           raw.Margin,
		Queue:            QueueSpec{Max: tps.DefaultQueueMax, Timeout: tps.DefaultQueueTimeout},
	}
	s.Tick = parseDuration(raw.Tick, "$.tick", "tick", report)
	if raw.Duration != "" {
		s.Duration = parseDuration(raw.Duration, "$.duration", "duration", report)
	}
	if raw.Queue != nil {
		if raw.Queue.Max != nil {
			s.Queue.Max = *raw.Queue.Max
		}
		if raw.Queue.Timeout != "" {
			s.Queue.Timeout = parseDuration(raw.Queue.Timeout, "$.queue.timeout", "queue.timeout", report)
		}
	}
	names := make([]string, len(raw.Services))
	for i, rs := range raw.Services {
		svc := tps.Service{Name: rs.Name, Min: rs.Min, Max: rs.Max}
		p, err := tps.ParsePriority(rs.Priority)
		if err != nil {
			report(fmt.Sprintf("$.services[%d].priority", i), "service %q: %v", rs.Name, err)
		}
		svc.Priority = p
		s.Services = append(s.Services, svc)
		names[i] = rs.Name
	}
	s.check(report)
	if raw.Demand == "" {
		ps.add(path, 0, "demand: missing; name the CSV file (t,service,rps) relative to the scenario")
	} else if len(ps) == 0 {
		s.Demand = loadDemand(path, raw.Demand, names, lineOf("$.demand"), &ps)
	}
	if len(ps) > 0 {
		return nil, ps
	}
	if s.Duration == 0 {
		s.Duration = s.Demand.Last()
		if s.Duration <= 0 {
			ps.add(path, 0, "duration: the demand file only has rows at t=0; set duration (e.g. 10m)")
			return nil, ps
		}
	}
	return s, nil
}

func loadDemand(path, rel string, names []string, line int, ps *Problems) *Demand {
	csvPath := rel
	if !filepath.IsAbs(csvPath) {
		csvPath = filepath.Join(filepath.Dir(path), rel)
	}
	f, err := os.Open(csvPath)
	if err != nil {
		ps.add(path, line, "demand: %v; the path is relative to the scenario file", err)
		return nil
	}
	defer f.Close()
	d, err := ParseDemandCSV(csvPath, f, names)
	if err != nil {
		var dp Problems
		if errors.As(err, &dp) {
			*ps = append(*ps, dp...)
		} else {
			ps.add(csvPath, 0, "%v", err)
		}
		return nil
	}
	return d
}

// parseDuration reads a Go duration ("500ms", "10m") or a bare number of seconds.
func parseDuration(text, path, field string, report func(string, string, ...any)) time.Duration {
	if text == "" {
		report(path, "%s: missing; want a duration such as 500ms", field)
		return 0
	}
	if secs, err := strconv.ParseFloat(text, 64); err == nil {
		if secs <= 0 || secs > maxSeconds || math.IsNaN(secs) {
			report(path, "%s: %q seconds must be > 0 and at most a year", field, text)
			return 0
		}
		return time.Duration(math.Round(secs * float64(time.Second)))
	}
	d, err := time.ParseDuration(text)
	if err != nil || d <= 0 {
		report(path, "%s: %q is not a positive duration; write e.g. 500ms, 2s or 10m", field, text)
		return 0
	}
	return d
}

// Validate checks an in-memory scenario (one built by code rather than loaded) by the same
// rules Load applies.
func (s *Scenario) Validate() error {
	var ps Problems
	name := s.Name
	if name == "" {
		name = "scenario"
	}
	s.check(func(p, format string, args ...any) {
		ps.add(name, 0, format, args...)
	})
	if s.Tick <= 0 {
		ps.add(name, 0, "tick must be > 0")
	}
	if s.Duration <= 0 {
		ps.add(name, 0, "duration must be > 0")
	}
	if s.Queue.Timeout <= 0 {
		ps.add(name, 0, "queue.timeout must be > 0")
	}
	if s.Demand == nil {
		ps.add(name, 0, "no demand")
	} else if len(s.Demand.Services()) != len(s.Services) {
		ps.add(name, 0, "demand has %d services, the scenario %d", len(s.Demand.Services()), len(s.Services))
	} else {
		for i, n := range s.Demand.Services() {
			if n != s.Services[i].Name {
				ps.add(name, 0, "demand service %d is %q, the scenario's is %q", i, n, s.Services[i].Name)
			}
		}
	}
	return ps.err()
}

// check applies the rules that do not depend on parsing: report gets a YAML path
// ($.services[1].min) so a loaded file can name the line.
func (s *Scenario) check(report func(path, format string, args ...any)) {
	if !(s.Capacity > 0) || math.IsInf(s.Capacity, 0) {
		report("$.capacity", "capacity: %v; want the upstream's cap in requests per second, > 0", s.Capacity)
	}
	if s.UpstreamCapacity < 0 || math.IsNaN(s.UpstreamCapacity) || math.IsInf(s.UpstreamCapacity, 0) {
		report("$.upstream_capacity", "upstream_capacity: %v; want the partner's real cap in requests per second (absent: the capacity)", s.UpstreamCapacity)
	}
	if s.Margin < 0 || s.Margin >= 1 || math.IsNaN(s.Margin) {
		report("$.margin", "margin: %v; want a fraction in [0, 1), e.g. 0.02 (absent: the default 2%%)", s.Margin)
	}
	if s.Tick > 0 && s.Tick < time.Millisecond {
		report("$.tick", "tick: %v is below 1ms; the allocators are not meant to run that often", s.Tick)
	}
	if s.Tick > 0 && s.Duration > 0 && s.Tick > s.Duration {
		report("$.tick", "tick: %v is longer than the duration %v", s.Tick, s.Duration)
	}
	if s.Queue.Max < 1 {
		report("$.queue.max", "queue.max: %d; want at least 1 request", s.Queue.Max)
	}
	if len(s.Services) == 0 {
		report("$.services", "services: none; list at least one {name, priority, min, max}")
	}
	seen := make(map[string]int, len(s.Services))
	var mins float64
	for i, svc := range s.Services {
		at := func(field string) string { return fmt.Sprintf("$.services[%d].%s", i, field) }
		if svc.Name == "" {
			report(fmt.Sprintf("$.services[%d]", i), "services[%d]: name missing", i)
		} else if first, dup := seen[svc.Name]; dup {
			report(at("name"), "service %q listed twice (also services[%d]); names must be unique", svc.Name, first)
		} else {
			seen[svc.Name] = i
		}
		if svc.Min < 0 || math.IsNaN(svc.Min) || math.IsInf(svc.Min, 0) {
			report(at("min"), "service %q: min %v; want requests per second >= 0", svc.Name, svc.Min)
		}
		if svc.Max < 0 || math.IsNaN(svc.Max) || math.IsInf(svc.Max, 0) {
			report(at("max"), "service %q: max %v; want requests per second >= 0 (0 or absent: none)", svc.Name, svc.Max)
		} else if svc.Max > 0 && svc.Max < svc.Min {
			report(at("max"), "service %q: max %v is below its min %v", svc.Name, svc.Max, svc.Min)
		}
		if svc.Min > 0 {
			mins += svc.Min
		}
	}
	if s.Capacity > 0 && mins > s.Capacity {
		report("$.services", "the services' mins add up to %v, more than the capacity %v; lower some mins", mins, s.Capacity)
	}
}

// nodeLine is the line of the node at a YAML path, or 0 when the path is not in the file.
func nodeLine(file *ast.File, p string) int {
	path, err := yaml.PathString(p)
	if err != nil {
		return 0
	}
	n, err := path.FilterFile(file)
	if err != nil || n == nil || n.GetToken() == nil {
		return 0
	}
	return n.GetToken().Position.Line
}

func yamlErrLine(err error) int {
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil {
		return ye.GetToken().Position.Line
	}
	return 0
}

func yamlErrMsg(err error) string {
	var ye yaml.Error
	if errors.As(err, &ye) {
		return ye.GetMessage()
	}
	return err.Error()
}
