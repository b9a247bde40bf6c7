package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"aya/internal/tps/sim"
)

func TestTPSTrainUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no out", []string{"--scenarios", "x"}, "--out is required"},
		{"stray argument", []string{"--out", "m.bin", "extra"}, `unexpected argument "extra"`},
		{"short episode", []string{"--out", "m.bin", "--episode", "1s"}, "too short"},
		{"empty directory", []string{"--out", "m.bin", "--scenarios", "."}, "no *.yaml scenario files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := cmdTPSTrain(tt.args, &stdout, &stderr); code == 0 {
				t.Fatalf("exit 0, want a failure")
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q, want it to mention %q", stderr.String(), tt.want)
			}
		})
	}
}

// TestWindow: a window of a scenario starts with the rates in force at its start and keeps
// the later changes, shifted.
func TestWindow(t *testing.T) {
	s, err := sim.GenerateScenario(sim.GenSpec{Family: sim.Bursts, Seed: 3, Duration: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	from, length := 30*time.Second, 40*time.Second
	w, err := window(s, from, length)
	if err != nil {
		t.Fatal(err)
	}
	if w.Duration != length || w.Name != s.Name+"@30s" {
		t.Fatalf("window %s of %v, want %s@30s of %v", w.Name, w.Duration, s.Name, length)
	}
	for i := range s.Services {
		for at := time.Duration(0); at < length; at += 500 * time.Millisecond {
			if got, want := w.Demand.Rate(i, at), s.Demand.Rate(i, from+at); got != want {
				t.Fatalf("service %d at %v: rate %v, want %v", i, at, got, want)
			}
		}
	}
}
