package route

import (
	"errors"
	"strings"
	"testing"
)

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name  string
		spec  Spec
		field string
		want  string // substring of the message
	}{
		{"star in the middle", Spec{Path: "/a/*/b"}, "path", "'*' not at the end"},
		{"star glued to a segment", Spec{Path: "/a*"}, "path", "'*' must be a whole final segment"},
		{"double star", Spec{Path: "/a/**"}, "path", "'*'"},
		{"unbalanced open", Spec{Path: "/users/{id"}, "path", "unbalanced '{'"},
		{"unbalanced close", Spec{Path: "/users/id}"}, "path", "unbalanced '}'"},
		{"partial param", Spec{Path: "/files/{name}.txt"}, "path", "whole segment"},
		{"two params in a segment", Spec{Path: "/{a}{b}"}, "path", "whole segment"},
		{"empty param", Spec{Path: "/users/{}"}, "path", "empty parameter name"},
		{"bad param name", Spec{Path: "/users/{user+id}"}, "path", "parameter name"},
		{"duplicate param", Spec{Path: "/{id}/x/{id}"}, "path", "appears twice"},
		{"relative path", Spec{Path: "users"}, "path", "must start with \"/\""},
		{"empty segment", Spec{Path: "/a//b"}, "path", "empty segment"},
		{"empty segment before star", Spec{Path: "/a//*"}, "path", "empty segment"},
		{"query in path", Spec{Path: "/a?b=1"}, "path", "match query parameters with query"},
		{"space in path", Spec{Path: "/a b"}, "path", "percent-encoded"},
		{"non-ASCII path", Spec{Path: "/café"}, "path", "percent-encoded"},
		{"bad regex", Spec{Path: "~(unclosed"}, "path", "missing closing )"},
		{"bad path_regex", Spec{PathRegex: "[z-a]"}, "path_regex", "invalid character class range"},
		{"empty regex", Spec{Path: "~"}, "path", "empty regex"},
		{"path and path_regex", Spec{Path: "/a", PathRegex: "^/a"}, "path_regex", "not both"},
		{"host with port", Spec{Host: "api.example.com:8080"}, "host", "must not include a port"},
		{"ipv6 host with port", Spec{Host: "[::1]:8080"}, "host", "must not include a port"},
		{"ipv6 not canonical", Spec{Host: "[0:0::1]"}, "host", "canonical form"},
		{"ipv6 unclosed", Spec{Host: "[::1"}, "host", "missing ']'"},
		{"ipv6 invalid", Spec{Host: "[zz]"}, "host", "not an IPv6 address"},
		{"wildcard ip", Spec{Host: "*.[::1]"}, "host", "cannot cover an IP address"},
		{"star inside host", Spec{Host: "api.*.example.com"}, "host", "whole first label"},
		{"star glued in host", Spec{Host: "*api.example.com"}, "host", "whole first label"},
		{"bare wildcard dot", Spec{Host: "*."}, "host", "empty host name"},
		{"empty label", Spec{Host: "api..example.com"}, "host", "empty label"},
		{"bad host byte", Spec{Host: "api/example.com"}, "host", "not allowed in a host name"},
		{"host too long", Spec{Host: strings.Repeat("a.", 127) + "com"}, "host", "longer than 253"},
		{"bad method", Spec{Methods: []string{"GE T"}}, "methods", "not an HTTP method"},
		{"empty method", Spec{Methods: []string{""}}, "methods", "not an HTTP method"},
		{"bad header name", Spec{Headers: map[string]string{"x env": "1"}}, "headers", "not a valid header name"},
		{"empty query key", Spec{Query: map[string]string{"": "1"}}, "query", "cannot be a query key"},
		{"query key with equals", Spec{Query: map[string]string{"a=b": "1"}}, "query", "cannot be a query key"},
		{"empty listener", Spec{Listeners: []string{""}}, "listeners", "empty listener name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			specs := []Spec{{Path: "/ok"}, tc.spec}
			table, err := Compile(specs)
			if err == nil {
				t.Fatalf("Compile succeeded; want an error containing %q", tc.want)
			}
			if table != nil {
				t.Error("Compile returned a table along with an error")
			}
			var se *SpecError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *SpecError", err)
			}
			if se.Index != 1 || se.Field != tc.field {
				t.Errorf("SpecError{Index: %d, Field: %q}, want {1, %q}", se.Index, se.Field, tc.field)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "route 1: "+tc.field+": ") {
				t.Errorf("error %q: want prefix %q and %q inside", err, "route 1: "+tc.field+": ", tc.want)
			}
		})
	}
}

func TestCompileReportsEveryProblem(t *testing.T) {
	_, err := Compile([]Spec{
		{Host: "a:1", Path: "/a*"},
		{Path: "/fine"},
		{Methods: []string{"G T"}},
	})
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %v does not list its problems", err)
	}
	var got []string
	for _, e := range joined.Unwrap() {
		var se *SpecError
		if !errors.As(e, &se) {
			t.Fatalf("%v is not a *SpecError", e)
		}
		got = append(got, se.Field)
		if se.Field == "methods" && se.Index != 2 || se.Field != "methods" && se.Index != 0 {
			t.Errorf("%v has index %d", e, se.Index)
		}
	}
	if strings.Join(got, ",") != "host,path,methods" {
		t.Errorf("problems reported for fields %v, want host, path, methods", got)
	}
}

func TestCompileAccepts(t *testing.T) {
	specs := []Spec{
		{},
		{Host: "*", Path: "/*"},
		{Host: "*.example.com", Path: "/a/*"},
		{Host: "Example.COM.", Path: "/"},
		{Host: "127.0.0.1", Path: "/docs/"},
		{Host: "[2001:db8::1]", Path: "/u/{id}/"},
		{Host: "under_score.internal", Path: "/%7Euser/{name}"},
		{Path: "/tenants/{tenant-id}/{v1.x}/*"},
		{Path: "~^/v[0-9]+/", Methods: []string{"get", "PURGE"}},
		{PathRegex: "^/x$", Headers: map[string]string{"X-Env": "*"}, Query: map[string]string{"v": ""}},
		{Listeners: []string{"web", "admin"}},
	}
	if _, err := Compile(specs); err != nil {
		t.Fatal(err)
	}
}

func TestAnchoredPrefix(t *testing.T) {
	for src, want := range map[string]string{
		"^/legacy/[a-z]+$": "/legacy/",
		"^/v1":             "/v1",
		"^/v[0-9]+/":       "/v",
		"/v[0-9]+/":        "",
		"(?i)^/admin":      "",
		"(?m)^/a":          "",
		"^(/a|/b)":         "",
		"^":                "",
		"^a|^b":            "",
		"(?s)^/a.":         "/a",
	} {
		if got := anchoredPrefix(src); got != want {
			t.Errorf("anchoredPrefix(%q) = %q, want %q", src, got, want)
		}
	}
}
