package llmdemo

import (
	"strings"
	"testing"
)

func TestCountAndSplitTokens(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"   ", 0},
		{"hello", 1},
		{"Hello, world!", 4},
		{" lead and trail ", 3},
		{`{"answer": "a b"}`, 10},
		{"naïve café 42x", 3},
		{"a\n\nb", 2},
	}
	for _, tt := range tests {
		if got := CountTokens(tt.in); got != tt.want {
			t.Errorf("CountTokens(%q) = %d, want %d", tt.in, got, tt.want)
		}
		pieces := splitTokens(tt.in)
		if tt.want > 0 && len(pieces) != tt.want {
			t.Errorf("splitTokens(%q) = %q, want %d pieces", tt.in, pieces, tt.want)
		}
		if tt.want > 0 && strings.Join(pieces, "") != tt.in {
			t.Errorf("splitTokens(%q) joined = %q", tt.in, strings.Join(pieces, ""))
		}
		for _, p := range pieces {
			if CountTokens(p) != 1 {
				t.Errorf("splitTokens(%q): piece %q is not one token", tt.in, p)
			}
		}
	}
}

func BenchmarkCountTokens(b *testing.B) {
	s := strings.Repeat("The quick brown fox, jumps over 13 lazy dogs. ", 40)
	b.ReportAllocs()
	for b.Loop() {
		CountTokens(s)
	}
}

func BenchmarkSplitTokens(b *testing.B) {
	s := strings.Repeat("The quick brown fox, jumps over 13 lazy dogs. ", 40)
	b.ReportAllocs()
	for b.Loop() {
		splitTokens(s)
	}
}
