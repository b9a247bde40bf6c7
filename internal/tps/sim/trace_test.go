package sim

import (
	"bytes"
	"testing"
	"time"
)

func TestGenerateTraceDeterministicAndShaped(t *testing.T) {
	svcs := []TraceService{{"a", 400}, {"b", 300}, {"c", 200}}
	for _, f := range Families() {
		t.Run(string(f), func(t *testing.T) {
			d1, err := GenerateTrace(f, svcs, 10*time.Minute, 42)
			if err != nil {
				t.Fatal(err)
			}
			d2, _ := GenerateTrace(f, svcs, 10*time.Minute, 42)
			d3, _ := GenerateTrace(f, svcs, 10*time.Minute, 43)
			var b1, b2, b3 bytes.Buffer
			d1.WriteCSV(&b1)
			d2.WriteCSV(&b2)
			d3.WriteCSV(&b3)
			if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
				t.Error("same seed, different traces")
			}
			if bytes.Equal(b1.Bytes(), b3.Bytes()) {
				t.Error("different seeds, same trace")
			}
			if d1.Last() >= 10*time.Minute || d1.Last() < 9*time.Minute {
				t.Errorf("last change at %v for a 10m trace", d1.Last())
			}
			// Every family keeps each service's mean within a factor of 3 of its base, and
			// changes something (the noise alone guarantees that).
			for i, s := range svcs {
				sum, lo, hi := 0.0, 1e18, 0.0
				n := 0
				for at := time.Duration(0); at < 10*time.Minute; at += time.Second {
					r := d1.Rate(i, at)
					sum += r
					lo, hi = min(lo, r), max(hi, r)
					n++
				}
				mean := sum / float64(n)
				if mean < s.Base/3 || mean > s.Base*3 || lo == hi {
					t.Errorf("service %s: mean %.0f, range [%.0f, %.0f] for base %v", s.Name, mean, lo, hi, s.Base)
				}
			}
		})
	}
}

func TestGenerateTraceFamiliesDiffer(t *testing.T) {
	svcs := []TraceService{{"a", 400}}
	peak := func(f Family) float64 {
		d, err := GenerateTrace(f, svcs, 10*time.Minute, 1)
		if err != nil {
			t.Fatal(err)
		}
		p := 0.0
		for at := time.Duration(0); at < 10*time.Minute; at += time.Second {
			p = max(p, d.Rate(0, at))
		}
		return p
	}
	if s, f := peak(Steady), peak(FlashCrowd); f < 2.5*s {
		t.Errorf("flash crowd peak %.0f, steady peak %.0f: want a surge of at least 2.5×", f, s)
	}
	if _, err := GenerateTrace("tides", svcs, time.Minute, 1); err == nil {
		t.Error("unknown family accepted")
	}
}
