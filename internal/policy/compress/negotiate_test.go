package compress

import (
	"testing"

	"aya/internal/httpx"
)

func TestNegotiate(t *testing.T) {
	all := []coding{brotliCoding, zstdCoding, gzipCoding}
	gzipFirst := []coding{gzipCoding, brotliCoding}
	tests := []struct {
		name   string
		accept []string // Accept-Encoding fields; nil: none sent
		offer  []coding
		want   coding
	}{
		{"no header", nil, all, none},
		{"empty header", []string{""}, all, none},
		{"gzip only", []string{"gzip"}, all, gzipCoding},
		{"browser", []string{"gzip, deflate, br, zstd"}, all, brotliCoding},
		{"server preference breaks ties", []string{"gzip, br"}, gzipFirst, gzipCoding},
		{"client weight wins over server order", []string{"br;q=0.5, zstd;q=0.9, gzip;q=0.1"}, all, zstdCoding},
		{"q=0 refuses", []string{"br;q=0, gzip"}, all, gzipCoding},
		{"q=0.000 refuses", []string{"br;q=0.000, zstd;q=0.0"}, all, none},
		{"star", []string{"*"}, all, brotliCoding},
		{"star with refusal", []string{"br;q=0, *;q=0.5"}, all, zstdCoding},
		{"star refused, listed kept", []string{"gzip;q=0.2, *;q=0"}, all, gzipCoding},
		{"identity preferred", []string{"gzip;q=0.5, identity"}, all, none},
		{"identity refused still compresses", []string{"gzip, identity;q=0"}, all, gzipCoding},
		{"x-gzip", []string{"x-gzip"}, all, gzipCoding},
		{"case and spaces", []string{" GZIP ; Q=0.7 ,BR;q=0.3"}, all, gzipCoding},
		{"not offered", []string{"br"}, []coding{gzipCoding}, none},
		{"several fields", []string{"br;q=0", "gzip"}, all, gzipCoding},
		{"first weight kept", []string{"br;q=0, br;q=1, gzip;q=0.5"}, all, gzipCoding},
		{"bad q ignored", []string{"br;q=2, zstd;q=abc, gzip;q=0.1234, deflate"}, all, none},
		{"other params ignored", []string{"gzip;level=9;q=0.5"}, all, gzipCoding},
		{"q=1.000", []string{"zstd;q=1.000"}, all, zstdCoding},
		{"unknown only", []string{"deflate, compress"}, all, none},
		{"trailing commas", []string{",,gzip,,"}, all, gzipCoding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h httpx.Header
			for _, v := range tt.accept {
				h.Add("Accept-Encoding", v)
			}
			if got := negotiate(h, tt.offer); got != tt.want {
				t.Errorf("negotiate(%q) = %v, want %v", tt.accept, got, tt.want)
			}
		})
	}
}

func TestQValue(t *testing.T) {
	tests := []struct {
		in   string
		want int16
		ok   bool
	}{
		{"", 1000, true},
		{"q=1", 1000, true},
		{"q=0", 0, true},
		{"q=0.5", 500, true},
		{"q=0.25", 250, true},
		{"q=0.125", 125, true},
		{"Q=0.1", 100, true},
		{" q=0.3 ", 300, true},
		{"q=1.0", 1000, true},
		{"q=1.5", 0, false},
		{"q=0.1234", 0, false},
		{"q=.5", 0, false},
		{"q=", 0, false},
		{"q=2", 0, false},
		{"q=0,5", 0, false},
		{"x=1", 1000, true},
	}
	for _, tt := range tests {
		got, ok := qvalue(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("qvalue(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"gzip, br;q=0.5", "*;q=0", "identity;q=1.000, zstd", ";;,q=,", "br;q=0.9;q=0.1"} {
		f.Add(s)
	}
	offer := []coding{zstdCoding, gzipCoding}
	f.Fuzz(func(t *testing.T, s string) {
		got := negotiate(httpx.Header{{Name: "Accept-Encoding", Value: s}}, offer)
		if got != none && got != zstdCoding && got != gzipCoding {
			t.Fatalf("negotiate(%q) = %v, not offered", s, got)
		}
	})
}

func BenchmarkNegotiate(b *testing.B) {
	h := httpx.Header{
		{Name: "Host", Value: "api.example.com"},
		{Name: "User-Agent", Value: "Mozilla/5.0"},
		{Name: "Accept-Encoding", Value: "gzip, deflate, br, zstd"},
	}
	offer := []coding{brotliCoding, zstdCoding, gzipCoding}
	b.ReportAllocs()
	for b.Loop() {
		if negotiate(h, offer) != brotliCoding {
			b.Fatal("wrong pick")
		}
	}
}
