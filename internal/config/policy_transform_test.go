package config

import (
	"errors"
	"strings"
	"testing"
)

// transformRoute is a config with one route whose policies list is pol (one YAML line each,
// starting at line 4).
func transformRoute(pol ...string) string {
	return okListener + okUpstream + "routes:\n  - name: all\n    upstream: app\n    policies:\n" +
		"      - " + strings.Join(pol, "\n      - ") + "\n"
}

func TestTransformPoliciesBad(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"transform edits nothing", transformRoute("transform: {}"), []string{
			`7: route "all" transform: edits nothing: write request: {headers: {set: {X-Name: value}}} or response: {...}`,
		}},
		{"framing header", transformRoute("transform: {request: {headers: {set: {Content-Length: '1'}}}}"), []string{
			`7: route "all" transform request headers: Content-Length is managed by aya and cannot be edited`,
		}},
		{"unknown variable", transformRoute("transform: {request: {headers: {set: {X-User: '$${user}'}}}}"), []string{
			`7: route "all" transform request headers: X-User: unknown variable ${user}: use ${client_ip}, ${consumer}, ${route}, ${request_id}, ${method}, ${host}, ${scheme}, ${path}, ${query}, ${claim.NAME}, ${header.NAME}, ${query.NAME}, ${param.NAME}`,
		}},
		{"unclosed variable", transformRoute("transform: {request: {query: {add: {u: '$${consumer'}}}}"), []string{
			`7: route "all" transform request query: u: unclosed ${ in "${consumer": write ${name}`,
		}},
		{"bad query name", transformRoute("transform: {request: {query: {remove: ['a=b']}}}"), []string{
			`7: route "all" transform request query: invalid query parameter name "a=b": it must not be empty or hold &, = or #`,
		}},
		{"json path wildcard", transformRoute("transform: {request: {body: {remove: ['items.#.id']}}}"), []string{
			`7: route "all" transform request body: JSON path "items.#.id": wildcards, queries, modifiers and : are not supported; write dotted keys like user.name or items.0.id`,
		}},
		{"json path empty key", transformRoute("transform: {response: {body: {rename: {'a..b': c}}}}"), []string{
			`7: route "all" transform response body: JSON path "a..b": it has an empty key (two dots, or a dot at an end); write dotted keys like user.name or items.0.id`,
		}},
		{"max_size zero", transformRoute("transform: {request: {body: {set: {a: '1'}, max_size: 0}}}"), []string{
			`7: route "all" transform request body: max_size must be above 0, like 1MB`,
		}},
		{"rewrite empty", transformRoute("rewrite: {}"), []string{
			`7: route "all" rewrite: write prefix: {from: /old, to: /new} or regex: {pattern: "^/u/(\\d+)$", to: "/users/$1"}`,
		}},
		{"rewrite both", transformRoute("rewrite: {prefix: {from: /a, to: /b}, regex: {pattern: a, to: /b}}"), []string{
			`7: route "all" rewrite: prefix and regex are both set: keep one (add a second rewrite policy to chain them)`,
		}},
		{"rewrite prefix not a path", transformRoute("rewrite: {prefix: {from: old, to: /new}}"), []string{
			`7: route "all" rewrite: prefix.from "old" must be a path starting with /, like "/old"`,
		}},
		{"rewrite bad regex", transformRoute("rewrite: {regex: {pattern: '^/u/(\\d+$', to: /users/$1}}"), []string{
			"7: route \"all\" rewrite: invalid regex \"^/u/(\\\\d+$\": error parsing regexp: missing closing ): `^/u/(\\d+$`",
		}},
		{"rewrite missing group", transformRoute("rewrite: {regex: {pattern: '^/u/(\\d+)$', to: /users/$2}}"), []string{
			`7: route "all" rewrite: regex.to: $2: the pattern has only 1 capture group(s)`,
		}},
		{"rewrite named group", transformRoute("rewrite: {regex: {pattern: '^/u/(\\d+)$', to: /users/$1x}}"), []string{
			`7: route "all" rewrite: regex.to: ${1x}: the pattern has no group named 1x; name it with (?P<1x>...), or write $1 (use ${1}x when a letter follows)`,
		}},
		{"redirect nothing", transformRoute("redirect: {}"), []string{
			`7: route "all" redirect: write to: "https://example.com${path}" or https: true`,
		}},
		{"redirect https with to", transformRoute("redirect: {https: true, to: 'https://x'}"), []string{
			`7: route "all" redirect: https: true redirects to the same host, path and query over https; leave out to (or drop https to redirect every request to to)`,
		}},
		{"redirect status", transformRoute("redirect: {to: 'https://x${path}', status: 200}"), []string{
			`7: route "all" redirect: status 200 is not a redirect: use 301, 302, 303, 307 or 308`,
		}},
		{"redirect port without https", transformRoute("redirect: {to: 'https://x', port: 8443}"), []string{
			`7: route "all" redirect: port applies to https upgrades only: set https: true or write the port in to`,
		}},
		{"static status", transformRoute("static: {status: 99}"), []string{
			`7: route "all" static: status must be from 200 to 599, got 99`,
		}},
		{"static content-type header", transformRoute("static: {headers: {Content-Type: x}}"), []string{
			`7: route "all" static: Content-Type is set by aya (use content_type for Content-Type)`,
		}},
		{"static 204 with body", transformRoute("static: {status: 204, body: hi}"), []string{
			`7: route "all" static: a 204 answer has no body: remove body or pick another status`,
		}},
		{"aggregate without calls", transformRoute("aggregate: {calls: []}"), []string{
			`7: route "all" aggregate: calls: list at least one {name: user, upstream: users, path: /users/${param.id}}`,
		}},
		{"aggregate call problems", okListener + okUpstream + `routes:
  - name: all
    policies:
      - aggregate:
          calls:
            - {name: user, upstream: ap, path: "/u/${param.id}"}
            - {name: user, upstream: app, path: "u", timeout: 0s}
            - {name: errors, upstream: app, path: "/$${nope}"}
`, []string{
			`8: route "all" aggregate call "user": upstream "ap" is not defined (did you mean "app"?)`,
			`9: call "user": duplicate name (first defined at line 8)`,
			`9: route "all" aggregate call "user": path "u" must start with /, like "/users/${param.id}"`,
			`9: route "all" aggregate call "user": timeout must be more than 0`,
			`10: route "all" aggregate: call name "errors" is where failures are reported: pick another name`,
			`10: route "all" aggregate call "errors": path: unknown variable ${nope}: use ${client_ip}, ${consumer}, ${route}, ${request_id}, ${method}, ${host}, ${scheme}, ${path}, ${query}, ${claim.NAME}, ${header.NAME}, ${query.NAME}, ${param.NAME}`,
		}},
		{"https redirect is not terminal", okListener + okUpstream + "routes:\n  - name: all\n    policies: [{redirect: {https: true}}]\n", []string{
			`4: route "all": upstream is required: name the upstream this route sends requests to`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse("aya.yaml", []byte(tc.yaml), noEnv)
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want Errors: %v", err, err)
			}
			var got []string
			for _, e := range errs {
				got = append(got, strings.TrimPrefix(e.Error(), "aya.yaml:"))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(tc.want, "\n      "))
			}
		})
	}
}

func TestTransformPoliciesGood(t *testing.T) {
	y := okListener + okUpstream + `routes:
  - name: all
    upstream: app
    policies:
      - transform:
          request:
            headers: {set: {X-Consumer: "${consumer}"}, remove: [X-Debug], rename: {X-Old: X-New}}
            query: {add: {via: aya}}
            body: {set: {"meta.by": "${consumer}", "n": "1"}, remove: [password]}
          response: {headers: {add: {X-Served-By: aya}}}
      - rewrite: {regex: {pattern: "^/u/(?P<id>\\d+)$", to: "/users/$${id}"}}
      - redirect: {https: true, port: 8443}
  - name: gone
    policies: [{redirect: {to: "https://example.com${path}", status: 301}}]
  - name: hello
    policies: [{static: {body: hi, headers: {X-A: b}}}]
  - name: agg
    match: {path: "/agg/{id}"}
    policies:
      - aggregate: {calls: [{name: user, upstream: app, path: "/users/${param.id}", required: true}]}
`
	cfg, err := parse("aya.yaml", []byte(y), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	pols := cfg.Routes[0].Policies
	if got := pols[0].Transform.Request.Body.MaxSize; got != 1<<20 {
		t.Errorf("body max_size default = %v, want 1MB", got)
	}
	if got := pols[2].Redirect.Status; got != 308 {
		t.Errorf("https redirect status default = %d, want 308", got)
	}
	if pols[2].Terminal() {
		t.Error("an https upgrade is not terminal")
	}
	if !cfg.Routes[1].Policies[0].Terminal() || cfg.Routes[1].Policies[0].Redirect.Status != 301 {
		t.Errorf("redirect to: %+v", cfg.Routes[1].Policies[0].Redirect)
	}
	st := cfg.Routes[2].Policies[0].Static
	if st.Status != 200 || st.ContentType != "text/plain; charset=utf-8" {
		t.Errorf("static defaults: %+v", st)
	}
	c := cfg.Routes[3].Policies[0].Aggregate.Calls[0]
	if c.Method != "GET" || c.Timeout.D().Seconds() != 5 || !c.Required {
		t.Errorf("aggregate call defaults: %+v", c)
	}
}
