package gateway

import (
	"fmt"
	"regexp"
	"sort"

	"aya/internal/config"
	"aya/internal/httpx"
	"aya/internal/policy"
	"aya/internal/policy/aggregate"
	"aya/internal/policy/redirect"
	"aya/internal/policy/rewrite"
	"aya/internal/policy/static"
	"aya/internal/policy/transform"
)

func (b *policyBuild) transform(c *config.TransformPolicy) (policy.Middleware, error) {
	var o transform.Options
	var err error
	if o.RequestHeaders, err = transformFields(c.Request.Headers); err != nil {
		return nil, fmt.Errorf("request headers: %w", err)
	}
	if o.RequestQuery, err = transformFields(c.Request.Query); err != nil {
		return nil, fmt.Errorf("request query: %w", err)
	}
	if o.RequestBody, err = transformBody(c.Request.Body); err != nil {
		return nil, fmt.Errorf("request body: %w", err)
	}
	if o.ResponseHeaders, err = transformFields(c.Response.Headers); err != nil {
		return nil, fmt.Errorf("response headers: %w", err)
	}
	if o.ResponseBody, err = transformBody(c.Response.Body); err != nil {
		return nil, fmt.Errorf("response body: %w", err)
	}
	o.Log = b.log.With("route", b.route.Name, "policy", "transform")
	return transform.New(o), nil
}

// transformFields compiles one set of field edits; map entries go in name order, so the
// result does not depend on map iteration.
func transformFields(c config.TransformFields) (transform.Fields, error) {
	f := transform.Fields{Remove: c.Remove}
	for _, from := range sortedNames(c.Rename) {
		f.Rename = append(f.Rename, transform.Rename{From: from, To: c.Rename[from]})
	}
	var err error
	if f.Set, err = templateValues(c.Set); err != nil {
		return f, err
	}
	f.Add, err = templateValues(c.Add)
	return f, err
}

func templateValues(m map[string]string) ([]transform.Value, error) {
	var out []transform.Value
	for _, name := range sortedNames(m) {
		t, err := transform.Compile(m[name])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, transform.Value{Name: name, Value: t})
	}
	return out, nil
}

func transformBody(c config.TransformBody) (transform.Body, error) {
	bd := transform.Body{Remove: c.Remove, MaxSize: int64(c.MaxSize)}
	for _, from := range sortedNames(c.Rename) {
		bd.Rename = append(bd.Rename, transform.Rename{From: from, To: c.Rename[from]})
	}
	for _, p := range sortedNames(c.Set) {
		v, err := transform.NewJSONValue(p, c.Set[p])
		if err != nil {
			return bd, fmt.Errorf("%s: %w", p, err)
		}
		bd.Set = append(bd.Set, v)
	}
	return bd, nil
}

func sortedNames(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (b *policyBuild) rewrite(c *config.RewritePolicy) (policy.Middleware, error) {
	var o rewrite.Options
	if c.Prefix != nil {
		o.Prefix = &rewrite.Prefix{From: c.Prefix.From, To: c.Prefix.To}
	}
	if c.Regex != nil {
		re, err := regexp.Compile(c.Regex.Pattern)
		if err != nil {
			return nil, fmt.Errorf("regex %q: %w", c.Regex.Pattern, err)
		}
		o.Regex, o.To = re, c.Regex.To
	}
	return rewrite.New(o)
}

func (b *policyBuild) redirect(c *config.RedirectPolicy) (policy.Middleware, error) {
	o := redirect.Options{HTTPS: c.HTTPS, Port: c.Port, Status: c.Status}
	if c.To != "" {
		t, err := transform.Compile(c.To)
		if err != nil {
			return nil, fmt.Errorf("to: %w", err)
		}
		o.To = t
	}
	return redirect.New(o)
}

func (b *policyBuild) static(c *config.StaticPolicy) (policy.Middleware, error) {
	o := static.Options{Status: c.Status, Body: c.Body, ContentType: c.ContentType}
	for _, name := range sortedNames(c.Headers) {
		o.Headers = append(o.Headers, httpx.Field{Name: name, Value: c.Headers[name]})
	}
	return static.New(o)
}

func (b *policyBuild) aggregate(c *config.AggregatePolicy) (policy.Middleware, error) {
	o := aggregate.Options{MaxSize: int64(c.MaxSize), Log: b.log.With("route", b.route.Name, "policy", "aggregate")}
	for _, cc := range c.Calls {
		h, err := b.proxyTo(cc.Upstream)
		if err != nil {
			return nil, fmt.Errorf("call %q: %w", cc.Name, err)
		}
		path, err := transform.Compile(cc.Path)
		if err != nil {
			return nil, fmt.Errorf("call %q: path: %w", cc.Name, err)
		}
		o.Calls = append(o.Calls, aggregate.Call{
			Name: cc.Name, Handler: h, Method: cc.Method, Path: path,
			Timeout: cc.Timeout.D(), Required: cc.Required,
		})
	}
	return aggregate.New(o)
}
