package transform

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// FuzzBodyApply feeds arbitrary bodies to the JSON editor: it must never panic, and whatever
// it returns without an error must be valid JSON.
func FuzzBodyApply(f *testing.F) {
	for _, s := range []string{`{"a":{"b":1},"c":[1,2]}`, `{"a":1,"a":2}`, `[1,2]`, `"x"`, `{"a":{"a":{"a":{}}}}`, `{`, ``} {
		f.Add([]byte(s))
	}
	b := Body{
		Remove:  []string{"c.1", "x"},
		Rename:  []Rename{{From: "a.b", To: "z.y"}},
		Set:     jsonValues("a.n", "${consumer}", "k\\.dot", "[1]"),
		MaxSize: 1 << 20,
	}
	r := newRequest("POST", "/", "")
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := b.apply(append([]byte(nil), body...), r)
		if err == nil && !gjson.ValidBytes(out) {
			t.Fatalf("edited %q into invalid JSON %q", body, out)
		}
	})
}

// FuzzTemplate compiles arbitrary templates and expands those that compile.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"${consumer}", "a${header.x}b${claim.sub}", "${", "${}", "$${x}"} {
		f.Add(s)
	}
	r := newRequest("GET", "/a?b=c", "", "X", "y")
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := Compile(s)
		if err != nil {
			return
		}
		for _, esc := range []Escape{Text, Query, Path} {
			out := tm.String(r, esc)
			for i := 0; i < len(out); i++ {
				if c := out[i]; (c < ' ' && c != '\t' || c == 0x7f) && !containsByte(s, c) {
					t.Fatalf("%q expanded a control byte into %q", s, out)
				}
			}
		}
	})
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

// FuzzQuery edits arbitrary raw queries: no panic, removed names are gone, and set names
// appear exactly once.
func FuzzQuery(f *testing.F) {
	for _, s := range []string{"a=1&b=2", "a&&b=&=c", "debug=1&debug", "q=x&search=y", "%zz=%&a=b=c"} {
		f.Add(s)
	}
	fs := escapeQueryValues(Fields{
		Remove: []string{"debug"},
		Rename: []Rename{{From: "q", To: "search"}},
		Set:    values("a", "${query.a} x"),
		Add:    values("via", "aya"),
	})
	f.Fuzz(func(t *testing.T, q string) {
		r := newRequest("GET", "/", "")
		r.Query = q
		out := fs.applyQuery(q, r)
		n := 0
		for _, kv := range strings.Split(out, "&") {
			k, _, _ := strings.Cut(kv, "=")
			switch k {
			case "debug", "q":
				t.Fatalf("%q → %q still has %s", q, out, k)
			case "a":
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%q → %q has %d a's", q, out, n)
		}
	})
}
