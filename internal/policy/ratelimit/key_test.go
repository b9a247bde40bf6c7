package ratelimit

import (
	"strings"
	"testing"
)

func TestParseKey(t *testing.T) {
	tests := []struct {
		in   string
		want string // the key written back, or the error's text
		ok   bool
	}{
		{"consumer", "consumer", true},
		{"ip", "ip", true},
		{"route", "route", true},
		{"header:X-User", "header:X-User", true},
		{" consumer , ip ", "consumer,ip", true},
		{"consumer,header:X-Tenant,route", "consumer,header:X-Tenant,route", true},
		{"", "empty key", false},
		{"user", `unknown key part "user"`, false},
		{"header:", "header:NAME", false},
		{"header:X User", "header:NAME", false},
		{"ip,ip", "listed twice", false},
		{"header:a,header:A", "listed twice", false},
		{"consumer,", `unknown key part ""`, false},
	}
	for _, tc := range tests {
		k, err := ParseKey(tc.in)
		switch {
		case tc.ok && err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case tc.ok && k.String() != tc.want:
			t.Errorf("%q: %q, want %q", tc.in, k.String(), tc.want)
		case !tc.ok && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: %v, want an error about %q", tc.in, err, tc.want)
		}
	}
}

func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"consumer", "ip,route", "header:X-User", "consumer, header:a ,ip", ",", "header:\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		if err != nil {
			return
		}
		again, err := ParseKey(k.String())
		if err != nil || again.String() != k.String() {
			t.Fatalf("%q → %q does not parse back to itself: %v", s, k.String(), err)
		}
	})
}
