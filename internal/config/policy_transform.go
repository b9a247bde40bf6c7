package config

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// TransformPolicy edits headers, query parameters and JSON bodies of requests and responses.
// Values may hold variables (${client_ip}, ${consumer}, ${claim.sub}, ...); see
// docs/policies/transform.md.
type TransformPolicy struct {
	Request  TransformRequest  `yaml:"request"`
	Response TransformResponse `yaml:"response"`
}

// TransformRequest edits the request before it goes upstream.
type TransformRequest struct {
	Headers TransformFields `yaml:"headers"`
	Query   TransformFields `yaml:"query"`
	Body    TransformBody   `yaml:"body"`
}

// TransformResponse edits the upstream's answer before it reaches the client.
type TransformResponse struct {
	Headers TransformFields `yaml:"headers"`
	Body    TransformBody   `yaml:"body"`
}

// TransformFields edits named fields (headers or query parameters): remove, then rename, then
// set (replace), then add (append).
type TransformFields struct {
	Remove []string          `yaml:"remove"`
	Rename map[string]string `yaml:"rename"` // from → to
	Set    map[string]string `yaml:"set"`
	Add    map[string]string `yaml:"add"`
}

func (f *TransformFields) empty() bool {
	return len(f.Remove) == 0 && len(f.Rename) == 0 && len(f.Set) == 0 && len(f.Add) == 0
}

// TransformBody edits a JSON body by path ("user.name", "items.0.id"): remove, then rename,
// then set. Bodies that are not JSON are left alone.
type TransformBody struct {
	Remove []string          `yaml:"remove"`
	Rename map[string]string `yaml:"rename"` // from path → to path
	// Set values are JSON when they parse as JSON (1, true, null, {"a":1}, "\"quoted\""), else
	// strings; a value with a variable is always a string.
	Set map[string]string `yaml:"set"`
	// MaxSize bounds the body aya buffers to edit: a larger request is refused with 413, a
	// larger response passes through unedited.
	MaxSize Size `yaml:"max_size" default:"1MB"`
}

func (b *TransformBody) empty() bool {
	return len(b.Remove) == 0 && len(b.Rename) == 0 && len(b.Set) == 0
}

// RewritePolicy rewrites the request path before it goes upstream: a prefix replacement or a
// regex with captures. The query is kept.
type RewritePolicy struct {
	Prefix *RewritePrefix `yaml:"prefix"`
	Regex  *RewriteRegex  `yaml:"regex"`
}

// RewritePrefix replaces a leading path prefix (whole segments only).
type RewritePrefix struct {
	From string `yaml:"from"`
	To   string `yaml:"to"`
}

// RewriteRegex replaces the path when Pattern matches; To may use $1, ${name}.
type RewriteRegex struct {
	Pattern string `yaml:"pattern"`
	To      string `yaml:"to"`
}

// RedirectPolicy answers with a redirect: to a URL template, or (HTTPS) an upgrade of
// plain-HTTP requests to https on the same host, path and query.
type RedirectPolicy struct {
	To string `yaml:"to"`
	// Status is 301, 302, 307 or 308; 0 takes 302 for To and 308 for HTTPS.
	Status int `yaml:"status"`
	// HTTPS redirects only requests that arrived without TLS; the others go on down the chain.
	HTTPS bool `yaml:"https"`
	// Port is the https port an upgrade points to; 0 leaves it out (443).
	Port int `yaml:"port"`
}

// terminal reports whether the redirect answers every request (not only plain-HTTP ones).
func (r *RedirectPolicy) terminal() bool { return !r.HTTPS }

// StaticPolicy answers with a fixed response.
type StaticPolicy struct {
	Status      int               `yaml:"status" default:"200"`
	Body        string            `yaml:"body"`
	ContentType string            `yaml:"content_type" default:"text/plain; charset=utf-8"`
	Headers     map[string]string `yaml:"headers"`
}

// AggregatePolicy fans one request out to several upstream calls and merges their JSON.
type AggregatePolicy struct {
	Calls []AggregateCall `yaml:"calls"`
	// MaxSize bounds each call's response body; a larger answer fails that call.
	MaxSize Size `yaml:"max_size" default:"1MB"`
}

// AggregateCall is one upstream call of an aggregation; its JSON answer becomes the merged
// object's member Name.
type AggregateCall struct {
	Line int `yaml:"-"`

	Name     string   `yaml:"name"`
	Upstream string   `yaml:"upstream"`
	Method   string   `yaml:"method" default:"GET"`
	Path     string   `yaml:"path"` // template: "/users/${param.id}?full=1"
	Timeout  Duration `yaml:"timeout" default:"5s"`
	// Required fails the whole answer (502) when this call fails; otherwise its member is null
	// and "errors" says why.
	Required bool `yaml:"required"`
}

// Variables a transform, redirect or aggregate value may use. Those ending in "." take a name.
var templateVars = []string{"client_ip", "consumer", "route", "request_id", "method", "host", "scheme", "path", "query", "claim.", "header.", "query.", "param."}

// checkTemplate reports what is wrong with a ${...} template, or "".
func checkTemplate(s string) string {
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return ""
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return fmt.Sprintf("unclosed ${ in %q: write ${name}", s)
		}
		name := s[i+2 : i+end]
		if !knownVar(name) {
			return fmt.Sprintf("unknown variable ${%s}: use %s", name, varList())
		}
		s = s[i+end+1:]
	}
}

func knownVar(name string) bool {
	for _, v := range templateVars {
		if strings.HasSuffix(v, ".") {
			if strings.HasPrefix(name, v) && len(name) > len(v) {
				return true
			}
		} else if name == v {
			return true
		}
	}
	return false
}

func varList() string {
	out := make([]string, len(templateVars))
	for i, v := range templateVars {
		if strings.HasSuffix(v, ".") {
			v += "NAME"
		}
		out[i] = "${" + v + "}"
	}
	return strings.Join(out, ", ")
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (v *validator) transformPolicy(cfg *Config, p *TransformPolicy, path, ctx string, line int) {
	rq, rs := &p.Request, &p.Response
	if rq.Headers.empty() && rq.Query.empty() && rq.Body.empty() && rs.Headers.empty() && rs.Body.empty() {
		v.errAt(path, line, "%s: edits nothing: write request: {headers: {set: {X-Name: value}}} or response: {...}", ctx)
	}
	v.transformFields(&rq.Headers, true, path+".request.headers", ctx+" request headers", line)
	v.transformFields(&rq.Query, false, path+".request.query", ctx+" request query", line)
	v.transformBody(&rq.Body, path+".request.body", ctx+" request body", line)
	v.transformFields(&rs.Headers, true, path+".response.headers", ctx+" response headers", line)
	v.transformBody(&rs.Body, path+".response.body", ctx+" response body", line)
}

// transformFields checks names (header tokens, non-framing; or non-empty query keys) and
// value templates.
func (v *validator) transformFields(f *TransformFields, header bool, path, ctx string, line int) {
	name := func(p, n string) {
		switch {
		case header && !isToken(n):
			v.errAt(p, line, "%s: invalid header name %q", ctx, n)
		case header && (framingHeader(n) || strings.EqualFold(n, "Host")):
			v.errAt(p, line, "%s: %s is managed by aya and cannot be edited", ctx, n)
		case !header && (n == "" || strings.ContainsAny(n, "&=#")):
			v.errAt(p, line, "%s: invalid query parameter name %q: it must not be empty or hold &, = or #", ctx, n)
		}
	}
	for i, n := range f.Remove {
		name(fmt.Sprintf("%s.remove[%d]", path, i), n)
	}
	for _, from := range sortedKeys(f.Rename) {
		p := path + ".rename." + from
		name(p, from)
		name(p, f.Rename[from])
	}
	for _, op := range []struct {
		key string
		m   map[string]string
	}{{"set", f.Set}, {"add", f.Add}} {
		for _, n := range sortedKeys(op.m) {
			p := path + "." + op.key + "." + n
			name(p, n)
			if msg := checkTemplate(op.m[n]); msg != "" {
				v.errAt(p, line, "%s: %s: %s", ctx, n, msg)
			}
		}
	}
}

func (v *validator) transformBody(b *TransformBody, path, ctx string, line int) {
	for i, p := range b.Remove {
		v.jsonPath(fmt.Sprintf("%s.remove[%d]", path, i), ctx, p, line)
	}
	for _, from := range sortedKeys(b.Rename) {
		v.jsonPath(path+".rename."+from, ctx, from, line)
		v.jsonPath(path+".rename."+from, ctx, b.Rename[from], line)
	}
	for _, k := range sortedKeys(b.Set) {
		p := path + ".set." + k
		v.jsonPath(p, ctx, k, line)
		if msg := checkTemplate(b.Set[k]); msg != "" {
			v.errAt(p, line, "%s: %s: %s", ctx, k, msg)
		}
	}
	if b.MaxSize <= 0 {
		v.errAt(path+".max_size", line, "%s: max_size must be above 0, like 1MB", ctx)
	}
}

// jsonPath accepts dotted object keys and array indexes ("user.name", "items.0.id"; "\." for
// a dot inside a key). gjson's wildcards, queries and modifiers are refused: an edit must name
// one place.
func (v *validator) jsonPath(path, ctx, p string, line int) {
	bad := ""
	switch {
	case p == "":
		bad = "it is empty"
	case strings.ContainsAny(p, "*?#@|!=<>%:\"`"):
		bad = "wildcards, queries, modifiers and : are not supported"
	}
	if bad == "" {
		for _, part := range splitJSONPath(p) {
			if part == "" {
				bad = "it has an empty key (two dots, or a dot at an end)"
				break
			}
		}
	}
	if strings.Contains(strings.ReplaceAll(p, `\.`, ""), `\`) {
		bad = `a backslash may only escape a dot (\.)`
	}
	if bad != "" {
		v.errAt(path, line, "%s: JSON path %q: %s; write dotted keys like user.name or items.0.id", ctx, p, bad)
	}
}

// splitJSONPath splits on dots not escaped by a backslash.
func splitJSONPath(p string) []string {
	var parts []string
	start := 0
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '.':
			parts = append(parts, p[start:i])
			start = i + 1
		}
	}
	return append(parts, p[start:])
}

func (v *validator) rewritePolicy(cfg *Config, p *RewritePolicy, path, ctx string, line int) {
	switch {
	case p.Prefix == nil && p.Regex == nil:
		v.errAt(path, line, `%s: write prefix: {from: /old, to: /new} or regex: {pattern: "^/u/(\\d+)$", to: "/users/$1"}`, ctx)
	case p.Prefix != nil && p.Regex != nil:
		v.errAt(path, line, "%s: prefix and regex are both set: keep one (add a second rewrite policy to chain them)", ctx)
	case p.Prefix != nil:
		pp := path + ".prefix"
		if !plainPath(p.Prefix.From) {
			v.errAt(pp+".from", line, `%s: prefix.from %q must be a path starting with /, like "/old"`, ctx, p.Prefix.From)
		}
		if !plainPath(p.Prefix.To) {
			v.errAt(pp+".to", line, `%s: prefix.to %q must be a path starting with /, like "/new" or "/"`, ctx, p.Prefix.To)
		}
	default:
		rp := path + ".regex"
		re, err := regexp.Compile(p.Regex.Pattern)
		switch {
		case p.Regex.Pattern == "":
			v.errAt(rp+".pattern", line, `%s: regex.pattern is required, like "^/u/(\\d+)$"`, ctx)
		case err != nil:
			v.errAt(rp+".pattern", line, "%s: invalid regex %q: %v", ctx, p.Regex.Pattern, err)
		case !strings.HasPrefix(p.Regex.To, "/") && !strings.HasPrefix(p.Regex.To, "$"):
			v.errAt(rp+".to", line, `%s: regex.to %q must be a path starting with / (captures as $1 or ${name}), like "/users/$1"`, ctx, p.Regex.To)
		default:
			if msg := checkCaptures(re, p.Regex.To); msg != "" {
				v.errAt(rp+".to", line, "%s: regex.to: %s", ctx, msg)
			}
		}
	}
}

// checkCaptures reports a $n or ${name} in to that the pattern does not capture.
func checkCaptures(re *regexp.Regexp, to string) string {
	names := re.SubexpNames()
	for i := 0; i < len(to); i++ {
		if to[i] != '$' || i+1 == len(to) {
			continue
		}
		j := i + 1
		var ref string
		if to[j] == '{' {
			end := strings.IndexByte(to[j:], '}')
			if end < 0 {
				return fmt.Sprintf("unclosed ${ in %q", to)
			}
			ref = to[j+1 : j+end]
		} else {
			for j < len(to) && (to[j] == '_' || 'a' <= to[j] && to[j] <= 'z' || 'A' <= to[j] && to[j] <= 'Z' || '0' <= to[j] && to[j] <= '9') {
				j++
			}
			ref = to[i+1 : j]
		}
		if ref == "" || ref == "$" {
			continue
		}
		if n, err := parseSmallInt(ref); err == nil {
			if n >= len(names) {
				return fmt.Sprintf("$%s: the pattern has only %d capture group(s)", ref, len(names)-1)
			}
			continue
		}
		if !slices.Contains(names[1:], ref) {
			return fmt.Sprintf("${%s}: the pattern has no group named %s; name it with (?P<%s>...), or write $1 (use ${1}x when a letter follows)", ref, ref, ref)
		}
	}
	return ""
}

func parseSmallInt(s string) (int, error) {
	if s == "" || len(s) > 3 || !isDigits(s) {
		return 0, fmt.Errorf("not a number")
	}
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n, nil
}

func plainPath(p string) bool {
	return strings.HasPrefix(p, "/") && !strings.ContainsAny(p, "?# *{}")
}

func (v *validator) redirectPolicy(cfg *Config, p *RedirectPolicy, path, ctx string, line int) {
	switch {
	case p.HTTPS && p.To != "":
		v.errAt(path+".to", line, "%s: https: true redirects to the same host, path and query over https; leave out to (or drop https to redirect every request to to)", ctx)
	case !p.HTTPS && p.To == "":
		v.errAt(path, line, `%s: write to: "https://example.com${path}" or https: true`, ctx)
	case p.To != "":
		if msg := checkTemplate(p.To); msg != "" {
			v.errAt(path+".to", line, "%s: to: %s", ctx, msg)
		}
	}
	if p.Port != 0 && !p.HTTPS {
		v.errAt(path+".port", line, "%s: port applies to https upgrades only: set https: true or write the port in to", ctx)
	}
	if p.Port < 0 || p.Port > 65535 {
		v.errAt(path+".port", line, "%s: port must be from 1 to 65535, got %d", ctx, p.Port)
	}
	if p.Status == 0 {
		p.Status = 302
		if p.HTTPS {
			p.Status = 308
		}
	}
	switch p.Status {
	case 301, 302, 303, 307, 308:
	default:
		v.errAt(path+".status", line, "%s: status %d is not a redirect: use 301, 302, 303, 307 or 308", ctx, p.Status)
	}
}

func (v *validator) staticPolicy(cfg *Config, p *StaticPolicy, path, ctx string, line int) {
	if p.Status < 200 || p.Status > 599 {
		v.errAt(path+".status", line, "%s: status must be from 200 to 599, got %d", ctx, p.Status)
	}
	if (p.Status == 204 || p.Status == 304) && p.Body != "" {
		v.errAt(path+".body", line, "%s: a %d answer has no body: remove body or pick another status", ctx, p.Status)
	}
	for _, n := range sortedKeys(p.Headers) {
		switch {
		case !isToken(n):
			v.errAt(path+".headers."+n, line, "%s: invalid header name %q", ctx, n)
		case framingHeader(n) || strings.EqualFold(n, "Content-Type"):
			v.errAt(path+".headers."+n, line, "%s: %s is set by aya (use content_type for Content-Type)", ctx, n)
		}
	}
}

func (v *validator) aggregatePolicy(cfg *Config, p *AggregatePolicy, path, ctx string, line int) {
	var upstreams []string
	for _, u := range cfg.Upstreams {
		upstreams = append(upstreams, u.Name)
	}
	if len(p.Calls) == 0 {
		v.errAt(path+".calls", line, "%s: calls: list at least one {name: user, upstream: users, path: /users/${param.id}}", ctx)
	}
	names := map[string]int{}
	for i := range p.Calls {
		c := &p.Calls[i]
		cp := fmt.Sprintf("%s.calls[%d]", path, i)
		if v.bad[cp] {
			continue
		}
		cl := c.Line
		if cl == 0 {
			cl = line
		}
		v.name("call", c.Name, i, cp, cl, names)
		if c.Name == "errors" {
			v.errAt(cp+".name", cl, `%s: call name "errors" is where failures are reported: pick another name`, ctx)
		}
		cctx := ctx + " " + objName("call", c.Name, i)
		switch {
		case c.Upstream == "":
			v.errAt(cp+".upstream", cl, "%s: upstream is required: name the upstream this call goes to", cctx)
		case !slices.Contains(upstreams, c.Upstream):
			v.errAt(cp+".upstream", cl, "%s: upstream %q is not defined%s", cctx, c.Upstream, didYouMean(c.Upstream, upstreams))
		}
		switch {
		case !strings.HasPrefix(c.Path, "/"):
			v.errAt(cp+".path", cl, `%s: path %q must start with /, like "/users/${param.id}"`, cctx, c.Path)
		default:
			if msg := checkTemplate(c.Path); msg != "" {
				v.errAt(cp+".path", cl, "%s: path: %s", cctx, msg)
			}
		}
		c.Method = strings.ToUpper(c.Method)
		if !isToken(c.Method) {
			v.errAt(cp+".method", cl, "%s: invalid method %q", cctx, c.Method)
		}
		v.positive(cp+".timeout", cl, cctx, "timeout", c.Timeout)
	}
	if p.MaxSize <= 0 {
		v.errAt(path+".max_size", line, "%s: max_size must be above 0, like 1MB", ctx)
	}
}
