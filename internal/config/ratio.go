package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Ratio is a share written in YAML as a fraction (0.5) or a percentage ("50%"). Validation
// bounds each field that uses it; a factor such as a number of standard deviations is a Ratio
// above 1.
type Ratio float64

// String formats r as a percentage when it is a whole one, else as a fraction.
func (r Ratio) String() string {
	if p := float64(r) * 100; p == float64(int64(p)) && r <= 1 {
		return strconv.FormatInt(int64(p), 10) + "%"
	}
	return strconv.FormatFloat(float64(r), 'g', -1, 64)
}

// MarshalText writes r as String does, so a dumped config reads back the same.
func (r Ratio) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText parses "0.5", "50%" or "1.9".
func (r *Ratio) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	div := 1.0
	if t, ok := strings.CutSuffix(s, "%"); ok {
		s, div = strings.TrimSpace(t), 100
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f != f {
		return fmt.Errorf("invalid ratio %q: write a fraction like 0.5 or a percentage like 50%%", string(b))
	}
	*r = Ratio(f / div)
	return nil
}

// StatusRange is an inclusive range of HTTP status codes, written "200" or "200-299".
type StatusRange struct {
	Lo, Hi int
}

// Contains reports whether status is in the range.
func (s StatusRange) Contains(status int) bool { return s.Lo <= status && status <= s.Hi }

// String formats the range as written in YAML.
func (s StatusRange) String() string {
	if s.Lo == s.Hi {
		return strconv.Itoa(s.Lo)
	}
	return strconv.Itoa(s.Lo) + "-" + strconv.Itoa(s.Hi)
}

// MarshalText writes the range as written in YAML.
func (s StatusRange) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses "200" or "200-299".
func (s *StatusRange) UnmarshalText(b []byte) error {
	text := strings.TrimSpace(string(b))
	lo, hi, isRange := strings.Cut(text, "-")
	a, errA := strconv.Atoi(strings.TrimSpace(lo))
	c := a
	var errC error
	if isRange {
		c, errC = strconv.Atoi(strings.TrimSpace(hi))
	}
	if errA != nil || errC != nil || a < 100 || c > 599 || a > c {
		return fmt.Errorf("invalid status %q: write a code from 100 to 599 like 200, or a range like 200-299", text)
	}
	*s = StatusRange{Lo: a, Hi: c}
	return nil
}

// StatusSet is a list of status ranges; in YAML a single code or range may stand alone
// (expect_status: 200) or be listed (expect_status: [200, 300-399]).
type StatusSet []StatusRange

// Contains reports whether status is in any range of the set.
func (s StatusSet) Contains(status int) bool {
	for _, r := range s {
		if r.Contains(status) {
			return true
		}
	}
	return false
}

func (StatusSet) oneIsList() {}
