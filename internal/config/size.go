package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Size is a byte count written in YAML as a plain number of bytes or a number with a unit:
// B, KB/KiB, MB/MiB, GB/GiB (case-insensitive). Like nginx, KB means 1024 bytes: KB and KiB
// are the same unit. Convert with int64(s).
type Size int64

var sizeUnits = [...]struct {
	suffix string
	mult   int64
}{
	// Longest suffixes first so "KiB" is not read as "B".
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30},
	{"b", 1},
}

// String formats s with the largest unit that divides it exactly.
func (s Size) String() string {
	switch {
	case s != 0 && s%(1<<30) == 0:
		return strconv.FormatInt(int64(s)>>30, 10) + "GB"
	case s != 0 && s%(1<<20) == 0:
		return strconv.FormatInt(int64(s)>>20, 10) + "MB"
	case s != 0 && s%(1<<10) == 0:
		return strconv.FormatInt(int64(s)>>10, 10) + "KB"
	}
	return strconv.FormatInt(int64(s), 10)
}

// MarshalText writes s as String does, so a dumped config reads back the same.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses "8KB", "8 KiB", "10MB", "1g" or "512".
func (s *Size) UnmarshalText(b []byte) error {
	text := strings.TrimSpace(string(b))
	num, mult := text, int64(1)
	lower := strings.ToLower(text)
	for _, u := range sizeUnits {
		if strings.HasSuffix(lower, u.suffix) {
			num, mult = strings.TrimSpace(text[:len(text)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("invalid size %q: write bytes or a number with a unit, like 512, 64KB or 10MB (KB = 1024 bytes)", text)
	}
	if n > (1<<63-1)/mult {
		return fmt.Errorf("invalid size %q: too large", text)
	}
	*s = Size(n * mult)
	return nil
}
