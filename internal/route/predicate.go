package route

import (
	"fmt"
	"slices"
	"strings"

	"aya/internal/httpx"
)

// route is a compiled Spec: what is left to check once host and path have matched.
type route struct {
	index     int
	listeners []string
	methods   []string
	headers   []fieldMatch
	query     []fieldMatch
	client    clientMatch
	// weight counts predicates (a method list counts once) for precedence rule 3.
	weight int
	// params are the segments a params pattern captures.
	params []paramSeg
}

// fieldMatch is one header or query predicate.
type fieldMatch struct {
	name    string
	value   string
	present bool // value was "*": only presence is required
}

// accepts reports whether r passes every predicate of rt other than host and path.
func (rt *route) accepts(r *httpx.Request) bool {
	if len(rt.listeners) > 0 && !slices.Contains(rt.listeners, r.Listener) {
		return false
	}
	if len(rt.methods) > 0 && !slices.Contains(rt.methods, r.Method) {
		return false
	}
	for i := range rt.headers {
		h := &rt.headers[i]
		v, ok := r.Header.Lookup(h.name)
		if !ok || !h.present && v != h.value {
			return false
		}
	}
	for i := range rt.query {
		q := &rt.query[i]
		v, ok := httpx.QueryLookup(r.Query, q.name)
		if !ok || !q.present && v != q.value {
			return false
		}
	}
	return rt.client.accepts(r.ClientIP)
}

// firstAccepting returns the first route of rts (already in precedence order) that r passes.
func firstAccepting(rts []*route, r *httpx.Request) *route {
	for _, rt := range rts {
		if rt.accepts(r) {
			return rt
		}
	}
	return nil
}

// parsePredicates fills the listener, method, header, query and client predicates of rt from s and
// returns every problem found.
func parsePredicates(index int, s Spec, rt *route) []error {
	var errs []error
	bad := func(field string, format string, args ...any) {
		errs = append(errs, &SpecError{Index: index, Field: field, Err: fmt.Errorf(format, args...)})
	}
	for _, l := range s.Listeners {
		if l == "" {
			bad("listeners", "empty listener name; name a listener or leave listeners out to serve all of them")
		}
	}
	rt.listeners = slices.Clone(s.Listeners)
	for _, m := range s.Methods {
		if !isToken(m) {
			bad("methods", "%q is not an HTTP method", m)
			continue
		}
		// Methods are case-sensitive on the wire and every registered one is upper case, so
		// "get" in a config can only mean GET.
		rt.methods = append(rt.methods, strings.ToUpper(m))
	}
	for _, name := range sortedKeys(s.Headers) {
		if !isToken(name) {
			bad("headers", "%q is not a valid header name", name)
			continue
		}
		v := s.Headers[name]
		rt.headers = append(rt.headers, fieldMatch{name: name, value: v, present: v == "*"})
	}
	for _, key := range sortedKeys(s.Query) {
		if key == "" || strings.ContainsAny(key, "&=#") {
			bad("query", "%q cannot be a query key; a key is non-empty and has no '&', '=' or '#'", key)
			continue
		}
		v := s.Query[key]
		rt.query = append(rt.query, fieldMatch{name: key, value: v, present: v == "*"})
	}
	if len(rt.methods) > 0 {
		rt.weight++
	}
	rt.weight += len(rt.headers) + len(rt.query)
	return append(errs, parseClient(index, s, rt)...)
}

// sortedKeys makes compilation independent of map order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// isToken reports whether s is a non-empty RFC 9110 token, the syntax of methods and header
// names.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
