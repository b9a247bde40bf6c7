package sim

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"aya/internal/tps"
)

// ServiceSpec is a service of a generated scenario with the typical rate its trace swings
// around.
type ServiceSpec struct {
	tps.Service
	Base float64
}

// PartnerServices is the service mix of the shipped scenarios: six callers of a 1500 TPS
// partner across all four priorities, whose base rates add up to 1700 (13% above the cap).
func PartnerServices() []ServiceSpec {
	return []ServiceSpec{
		{tps.Service{Name: "payments", Priority: tps.Critical, Min: 150}, 320},
		{tps.Service{Name: "search", Priority: tps.High, Min: 100}, 420},
		{tps.Service{Name: "orders", Priority: tps.High, Min: 100}, 260},
		{tps.Service{Name: "catalog", Priority: tps.Medium, Min: 50}, 300},
		{tps.Service{Name: "reports", Priority: tps.Low, Min: 25, Max: 600}, 220},
		{tps.Service{Name: "analytics", Priority: tps.Low, Min: 25}, 180},
	}
}

// GenSpec describes a scenario to generate. Zero fields take the defaults noted.
type GenSpec struct {
	Name     string        // default: the family
	Family   Family        // required
	Seed     uint64        // the trace's seed
	Duration time.Duration // default 10m
	Capacity float64       // default 1500
	Tick     time.Duration // default 500ms
	Load     float64       // multiplies every base rate; default 1
	Services []ServiceSpec // default PartnerServices()
}

// GenerateScenario makes a scenario with a generated trace: the same spec always gives the
// same scenario. The RL trainer uses it for episodes; the shipped examples were made with it.
func GenerateScenario(spec GenSpec) (*Scenario, error) {
	if spec.Duration == 0 {
		spec.Duration = 10 * time.Minute
	}
	if spec.Capacity == 0 {
		spec.Capacity = 1500
	}
	if spec.Tick == 0 {
		spec.Tick = 500 * time.Millisecond
	}
	if spec.Load == 0 {
		spec.Load = 1
	}
	if spec.Services == nil {
		spec.Services = PartnerServices()
	}
	if spec.Name == "" {
		spec.Name = string(spec.Family)
	}
	trace := make([]TraceService, len(spec.Services))
	services := make([]tps.Service, len(spec.Services))
	for i, s := range spec.Services {
		trace[i] = TraceService{Name: s.Name, Base: s.Base * spec.Load}
		services[i] = s.Service
	}
	d, err := GenerateTrace(spec.Family, trace, spec.Duration, spec.Seed)
	if err != nil {
		return nil, err
	}
	s := &Scenario{
		Name: spec.Name,
		Description: fmt.Sprintf("aya tps generate --family %s --seed %d --load %g --duration %v --capacity %g",
			spec.Family, spec.Seed, spec.Load, spec.Duration, spec.Capacity),
		Capacity: spec.Capacity,
		Tick:     spec.Tick,
		Duration: spec.Duration,
		Services: services,
		Queue:    QueueSpec{Max: tps.DefaultQueueMax, Timeout: tps.DefaultQueueTimeout},
		Demand:   d,
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// WriteFiles writes the scenario as a YAML file at yamlPath and its demand as a CSV beside it
// (same base name), in the format Load reads.
func (s *Scenario) WriteFiles(yamlPath string) error {
	csvPath := strings.TrimSuffix(yamlPath, filepath.Ext(yamlPath)) + ".csv"
	var csv bytes.Buffer
	if err := s.Demand.WriteCSV(&csv); err != nil {
		return err
	}
	if err := os.WriteFile(csvPath, csv.Bytes(), 0o644); err != nil {
		return fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	if err := os.WriteFile(yamlPath, s.yaml(filepath.Base(csvPath)), 0o644); err != nil {
		return fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	return nil
}

// yaml renders the scenario by hand so the file reads like one a person wrote (flow-style
// services, durations as text).
func (s *Scenario) yaml(csvName string) []byte {
	var b bytes.Buffer
	if s.Description != "" {
		fmt.Fprintf(&b, "description: %s\n", strconv.Quote(s.Description))
	}
	fmt.Fprintf(&b, "capacity: %s\n", fmtNum(s.Capacity))
	if s.UpstreamCapacity > 0 {
		fmt.Fprintf(&b, "upstream_capacity: %s\n", fmtNum(s.UpstreamCapacity))
	}
	if s.Margin > 0 {
		fmt.Fprintf(&b, "margin: %s\n", fmtNum(s.Margin))
	}
	fmt.Fprintf(&b, "tick: %v\n", s.Tick)
	fmt.Fprintf(&b, "duration: %v\n", s.Duration)
	fmt.Fprintf(&b, "queue: {max: %d, timeout: %v}\n", s.Queue.Max, s.Queue.Timeout)
	b.WriteString("services:\n")
	for _, svc := range s.Services {
		fmt.Fprintf(&b, "  - {name: %s, priority: %s, min: %s", svc.Name, svc.Priority, fmtNum(svc.Min))
		if svc.Max > 0 {
			fmt.Fprintf(&b, ", max: %s", fmtNum(svc.Max))
		}
		b.WriteString("}\n")
	}
	fmt.Fprintf(&b, "demand: %s\n", csvName)
	return b.Bytes()
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
