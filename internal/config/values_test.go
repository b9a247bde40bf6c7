package config

import (
	"testing"
	"time"
)

func TestSize(t *testing.T) {
	tests := []struct {
		in   string
		want Size
		err  bool
	}{
		{"512", 512, false},
		{"0", 0, false},
		{"8KB", 8 << 10, false},
		{"8KiB", 8 << 10, false},
		{"8 kb", 8 << 10, false},
		{"64k", 64 << 10, false},
		{"10MB", 10 << 20, false},
		{"10mib", 10 << 20, false},
		{"1G", 1 << 30, false},
		{"100B", 100, false},
		{"", 0, true},
		{"KB", 0, true},
		{"-1KB", 0, true},
		{"1.5MB", 0, true},
		{"10XB", 0, true},
		{"9999999999GB", 0, true},
	}
	for _, tc := range tests {
		var s Size
		err := s.UnmarshalText([]byte(tc.in))
		if (err != nil) != tc.err || s != tc.want {
			t.Errorf("Size(%q) = %d, %v; want %d, error %v", tc.in, s, err, tc.want, tc.err)
		}
	}
	for _, s := range []Size{0, 100, 8 << 10, 10 << 20, 3 << 30, 1536} {
		var back Size
		text, _ := s.MarshalText()
		if err := back.UnmarshalText(text); err != nil || back != s {
			t.Errorf("round trip of %d via %q = %d, %v", s, text, back, err)
		}
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"0", 0, false},
		{"10s", 10 * time.Second, false},
		{"1m30s", 90 * time.Second, false},
		{"250ms", 250 * time.Millisecond, false},
		{"10", 0, true},
		{"-1s", 0, true},
		{"soon", 0, true},
	}
	for _, tc := range tests {
		var d Duration
		err := d.UnmarshalText([]byte(tc.in))
		if (err != nil) != tc.err || d.D() != tc.want {
			t.Errorf("Duration(%q) = %v, %v; want %v, error %v", tc.in, d, err, tc.want, tc.err)
		}
	}
	if text, _ := Duration(90 * time.Second).MarshalText(); string(text) != "1m30s" {
		t.Errorf("MarshalText = %q", text)
	}
}

func TestHashKey(t *testing.T) {
	tests := []struct {
		in   string
		want HashKey
		err  bool
	}{
		{"ip", HashKey{Kind: HashIP}, false},
		{"path", HashKey{Kind: HashPath}, false},
		{"header:X-User", HashKey{Kind: HashHeader, Name: "X-User"}, false},
		{"cookie:sid", HashKey{Kind: HashCookie, Name: "sid"}, false},
		{"query:user", HashKey{Kind: HashQuery, Name: "user"}, false},
		{"ip:x", HashKey{}, true},
		{"header:", HashKey{}, true},
		{"body", HashKey{}, true},
		{"", HashKey{}, true},
	}
	for _, tc := range tests {
		var k HashKey
		err := k.UnmarshalText([]byte(tc.in))
		if (err != nil) != tc.err || k != tc.want {
			t.Errorf("HashKey(%q) = %+v, %v; want %+v, error %v", tc.in, k, err, tc.want, tc.err)
		}
		if !tc.err && k.String() != tc.in {
			t.Errorf("HashKey(%q).String() = %q", tc.in, k.String())
		}
	}
}

func TestDidYouMean(t *testing.T) {
	keys := []string{"listeners", "upstreams", "routes", "admin", "shutdown", "log"}
	tests := map[string]string{
		"listner":   ` (did you mean "listeners"?)`,
		"upstream":  ` (did you mean "upstreams"?)`,
		"rotues":    ` (did you mean "routes"?)`,
		"lgo":       ` (did you mean "log"?)`,
		"color":     "",
		"x":         "",
		"adminaddr": "",
	}
	for in, want := range tests {
		if got := didYouMean(in, keys); got != want {
			t.Errorf("didYouMean(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCommentStart(t *testing.T) {
	tests := map[string]int{
		"a: b":              4,
		"# all comment":     0,
		"a: b # c":          5,
		"a: b#c":            6,
		`a: "b # c" # d`:    11,
		`a: 'it''s # x' #y`: 15,
		`a: "q\" # x" # y`:  13,
		"- it's # here":     7,
	}
	for in, want := range tests {
		if got := commentStart([]byte(in)); got != want {
			t.Errorf("commentStart(%q) = %d, want %d", in, got, want)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	dir := b.TempDir()
	writeCert(b, dir, "a")
	data := []byte(contract)
	file := dir + "/aya.yaml"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parse(file, data, noEnv); err != nil {
			b.Fatal(err)
		}
	}
}
