package llm

import (
	"encoding/json"
	"testing"
)

// TestScannerString: every string the scanner accepts decodes as encoding/json decodes it.
func TestScannerString(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{`"plain"`, true},
		{`""`, true},
		{`"héllo ✓"`, true},
		{`"a\"b\\c\/d\n\r\t\b\f"`, true},
		{`"\u00e9\u4e16"`, true},
		{`"\ud83d\ude00 pair"`, true},
		{`"\ud83d lone high"`, true},
		{`"\ude00 lone low"`, true},
		{`"\ud83d\u0041 high then A"`, true},
		{`"bad \x escape"`, false},
		{`"bad \u12 short"`, false},
		{"\"raw\ncontrol\"", false},
		{"\"bad utf8 \xff\"", false},
		{`"unterminated`, false},
		{`123`, false},
	}
	for _, tt := range tests {
		s := NewScanner([]byte(tt.in))
		got, ok := s.String()
		if ok != tt.ok || ok && !s.End() {
			t.Errorf("%s: ok %v, want %v", tt.in, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		var want string
		if err := json.Unmarshal([]byte(tt.in), &want); err != nil || got != want {
			t.Errorf("%s: got %q, encoding/json %q (%v)", tt.in, got, want, err)
		}
	}
}

func TestScannerIntAndSkip(t *testing.T) {
	ints := []struct {
		in   string
		want int
		ok   bool
	}{{"0", 0, true}, {"42", 42, true}, {"-7", -7, true}, {"1.5", 0, false}, {"1e3", 0, false}, {"01", 0, false}, {"-", 0, false}, {`"1"`, 0, false}}
	for _, tt := range ints {
		s := NewScanner([]byte(tt.in))
		got, ok := s.Int()
		if ok != tt.ok || got != tt.want {
			t.Errorf("Int(%s) = %d, %v", tt.in, got, ok)
		}
	}
	skips := []struct {
		in string
		ok bool
	}{
		{`{"a":[1,-2.5e+3,true,false,null,{"b":"c\"d"}],"e":{}}`, true},
		{`[]`, true},
		{`{"a":1,}`, false},
		{`[1 2]`, false},
		{`{"a" 1}`, false},
		{`nul`, false},
		{`1.`, false},
		{`-01`, false},
		{`tru`, false},
	}
	for _, tt := range skips {
		s := NewScanner([]byte(tt.in))
		if ok := s.Skip() && s.End(); ok != tt.ok {
			t.Errorf("Skip(%s) = %v", tt.in, ok)
		}
		if tt.ok && !json.Valid([]byte(tt.in)) {
			t.Errorf("%s is not valid JSON but was accepted", tt.in)
		}
	}
}

func TestScannerFloatBoolRaw(t *testing.T) {
	for _, in := range []string{"0", "-1.5", "1e-3", "2.5E+2", "1e400", "01", "-", ".5", "true"} {
		s := NewScanner([]byte(in))
		got, ok := s.Float()
		var want float64
		err := json.Unmarshal([]byte(in), &want)
		if ok != (err == nil) || ok && (got != want || !s.End()) {
			t.Errorf("Float(%s) = %v, %v; encoding/json %v, %v", in, got, ok, want, err)
		}
	}
	for _, in := range []string{"true", "false", "tru", "null", "1"} {
		s := NewScanner([]byte(in))
		got, ok := s.Bool()
		var want bool
		err := json.Unmarshal([]byte(in), &want)
		if in != "null" && (ok != (err == nil) || got != want) {
			t.Errorf("Bool(%s) = %v, %v; encoding/json %v, %v", in, got, ok, want, err)
		}
	}
	s := NewScanner([]byte(` [1, {"a": "b"}] ,`))
	if raw, ok := s.Raw(); !ok || string(raw) != `[1, {"a": "b"}]` {
		t.Errorf("Raw = %q, %v", raw, ok)
	}
}
