package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Fault injects delays and aborts into a route's requests (Envoy's fault filter), to see how
// clients and the rest of the system cope with a slow or failing upstream before it happens.
type Fault struct {
	Delay *FaultDelay `yaml:"delay"`
	Abort *FaultAbort `yaml:"abort"`
	// Header triggers the faults on the requests that carry it, whatever the percentages: a
	// value naming delay and/or abort ("delay", "abort", "delay,abort") picks those, any other
	// value all the configured ones. Empty: percentages only.
	Header string `yaml:"header"`
	// Seed starts the route's own random sequence, so a run can be repeated; 0: seeded from
	// the route's name.
	Seed uint64 `yaml:"seed"`
}

// FaultDelay holds requests for Duration before they go on.
type FaultDelay struct {
	Duration Duration `yaml:"duration"`
	Percent  Percent  `yaml:"percent"` // of the route's requests; 0: only by header
}

// FaultAbort answers requests with Status (aya's JSON error) instead of sending them upstream.
type FaultAbort struct {
	Status  int     `yaml:"status" default:"503"`
	Percent Percent `yaml:"percent"` // of the route's requests; 0: only by header
}

// Percent is a percentage written as a number of percent: 10, 0.5 or "10%".
type Percent float64

// UnmarshalText parses "10", "0.5" or "10%".
func (p *Percent) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(string(b)), "%"))
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 100 || f != f {
		return fmt.Errorf("invalid percent %q: write a number from 0 to 100, like 10 or 0.5", string(b))
	}
	*p = Percent(f)
	return nil
}

// MarshalText writes p as a plain number of percent.
func (p Percent) MarshalText() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(p), 'g', -1, 64), nil
}
