package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// FuzzParse checks that no input makes Parse panic or return both a config and an error,
// and that every problem it reports carries the file name.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		contract,
		okListener + okUpstream + okRoute,
		"x-a: &a {connect: 1s}\nupstreams: [{name: u, timeouts: {<<: *a}, targets: [{url: \"h2c://a:1\"}]}]\n",
		"a: &a [*a]\nlisteners: *a\n",
		"listeners: [{name: ${X:-web}, address: \"$${Y}\"}]\n",
		"routes: [{match: {path: \"/{a}/{b\", path_regex: \"(\"}}]\n",
		"listeners: !!map {}\n---\nb: 1\n",
		"- [[[[{]]]]\n",
		"log: {level: 1.5e3, format: ~}\nadmin: {address: '[::1]:0'}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parse("fuzz.yaml", data, envMap(map[string]string{"X": "x"}))
		if (cfg == nil) == (err == nil) {
			t.Fatalf("cfg %v with err %v", cfg, err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "fuzz.yaml") {
			t.Fatalf("error without file name: %v", err)
		}
	})
}

// TestAliasBomb checks that nested merge keys, which double the work at every level, stop at
// the work limit with an error instead of running for ever.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("x-0: &a0 {connect: 1s}\n")
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&b, "x-%d: &a%d {<<: [*a%d, *a%d, *a%d, *a%d]}\n", i, i, i-1, i-1, i-1, i-1)
	}
	b.WriteString("upstreams: [{name: u, timeouts: *a40, targets: [{url: \"http://a:1\"}]}]\n")
	start := time.Now()
	_, err := parse("bomb.yaml", []byte(b.String()), noEnv)
	if err == nil || !strings.Contains(err.Error(), "config too large") && !strings.Contains(err.Error(), "merge keys nest") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 60*time.Second {
		t.Errorf("took %v", d)
	}
}
