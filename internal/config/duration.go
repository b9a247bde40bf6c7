package config

import (
	"fmt"
	"time"
)

// Duration is a time.Duration written in YAML as a Go duration string ("2s", "1m30s", "0").
// Convert with D() or time.Duration(d).
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d as a Go duration.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes d as a Go duration, so a dumped config reads back the same.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a Go duration. A bare "0" is allowed; other bare numbers are rejected
// because their unit would be a guess.
func (d *Duration) UnmarshalText(b []byte) error {
	s := string(b)
	if s == "0" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: write a number with a unit, like 10s, 500ms or 1m30s", s)
	}
	if v < 0 {
		return fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	*d = Duration(v)
	return nil
}
