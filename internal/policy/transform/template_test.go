package transform

import (
	"testing"

	"aya/internal/httpx"
)

func TestTemplate(t *testing.T) {
	r := newRequest("GET", "/users/7?q=a%20b&x=1", "", "X-Tenant", "acme", "X-Ctl", "a\x01b")
	r.Params = []httpx.Param{{Name: "id", Value: "7"}}
	tests := []struct {
		tmpl string
		esc  Escape
		want string
	}{
		{"plain", Text, "plain"},
		{"${client_ip}|${consumer}|${route}|${request_id}", Text, "192.0.2.7|alice|api|req-1"},
		{"${method} ${scheme}://${host}${path}?${query}", Text, "GET http://api.example.com/users/7?q=a%20b&x=1"},
		{"${claim.sub}/${claim.none}/${header.x-tenant}/${query.q}/${param.id}", Text, "u-42//acme/a%20b/7"},
		{"${claim.evil}", Text, "aX-Admin: 1"}, // CR LF cannot split a header
		{"${header.X-Ctl}", Text, "ab"},
		{"u=${claim.evil}", Query, "u=a%0D%0AX-Admin%3A%201"},
		{"${query.q}", Query, "a%20b"}, // already in wire form: kept
		{"/p/${header.X-Tenant}/${claim.evil}", Path, "/p/acme/a%0D%0AX-Admin%3A%201"},
	}
	for _, tc := range tests {
		got := MustCompile(tc.tmpl).String(r, tc.esc)
		if got != tc.want {
			t.Errorf("%q (esc %d) = %q, want %q", tc.tmpl, tc.esc, got, tc.want)
		}
	}
}

func TestTemplatePathCannotAddSegments(t *testing.T) {
	r := newRequest("GET", "/x?a=..&b=c/d", "")
	r.Params = []httpx.Param{{Name: "id", Value: ".."}}
	for tmpl, want := range map[string]string{
		"/u/${param.id}": "/u/%2E%2E",
		"/u/${query.a}":  "/u/%2E%2E",
		"/u/${query.b}":  "/u/c%2Fd",
	} {
		if got := MustCompile(tmpl).String(r, Path); got != want {
			t.Errorf("%s = %q, want %q", tmpl, got, want)
		}
	}
}

func TestTemplateErrors(t *testing.T) {
	for _, s := range []string{"${nope}", "${claim.}", "a ${consumer"} {
		if _, err := Compile(s); err == nil {
			t.Errorf("Compile(%q) succeeded", s)
		}
	}
}

func TestConstantTemplateDoesNotAllocate(t *testing.T) {
	tm := MustCompile("constant")
	r := newRequest("GET", "/", "")
	if n := testing.AllocsPerRun(100, func() { _ = tm.String(r, Text) }); n != 0 {
		t.Errorf("constant String allocates %v times", n)
	}
}

func TestAppendJSONString(t *testing.T) {
	got := string(appendJSONString(nil, "a\"b\\c\n\x00\xffé"))
	want := `"a\"b\\c\u000A\u0000\ufffdé"`
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func BenchmarkTemplateVariables(b *testing.B) {
	tm := MustCompile("${consumer}@${client_ip} ${claim.sub}")
	r := newRequest("GET", "/", "")
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = tm.Append(buf[:0], r, Text)
	}
}
