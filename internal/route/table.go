package route

import (
	"errors"
	"regexp"
	"slices"
	"strings"

	"aya/internal/httpx"
)

// Table is a compiled set of Specs. It is immutable after Compile and safe for concurrent use.
type Table struct {
	routes []route           // every compiled route, in config order; the groups point into it
	exact  map[string]*group // lowercased host → its routes
	wild   map[string]*group // lowercased suffix with its dot (".example.com") → its routes
	any    *group            // routes without a host, nil when there are none
}

// group holds the routes of one host (or of one wildcard, or of any host), by path form.
type group struct {
	exact  map[string][]*route
	params *node
	prefix *node
	regex  []regexRoutes
	any    []*route
}

// regexRoutes are the routes sharing one regex source: they tie on the path, so weight and
// config order decide among them, and the regex runs once for all of them.
type regexRoutes struct {
	re     *regexp.Regexp
	prefix string // a literal every match starts with, "" when unknown
	routes []*route
}

// Compile checks every Spec and builds the Table. The error joins one *SpecError per problem,
// each naming the spec index, the field and the fix.
func Compile(specs []Spec) (*Table, error) { return CompileWith(specs, Options{}) }

// Options are what some predicates need beyond the Specs themselves.
type Options struct {
	// Countries answers Spec.Country; nil refuses every Spec that names countries.
	Countries Countries
}

// CompileWith is Compile with options.
func CompileWith(specs []Spec, o Options) (*Table, error) {
	t := &Table{
		routes: make([]route, len(specs)),
		exact:  make(map[string]*group),
		wild:   make(map[string]*group),
	}
	var errs []error
	for i, s := range specs {
		rt := &t.routes[i]
		rt.index = i
		rt.client.countries = o.Countries
		kind, key, err := parseHost(s.Host)
		if err != nil {
			errs = append(errs, &SpecError{Index: i, Field: "host", Err: err})
		}
		p, field, perr := parsePath(s.Path, s.PathRegex)
		if perr != nil {
			errs = append(errs, &SpecError{Index: i, Field: field, Err: perr})
		}
		errs = append(errs, parsePredicates(i, s, rt)...)
		if err != nil || perr != nil {
			continue
		}
		rt.params = p.params
		t.groupFor(kind, key).add(p, rt)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, g := range t.exact {
		g.finish()
	}
	for _, g := range t.wild {
		g.finish()
	}
	if t.any != nil {
		t.any.finish()
	}
	return t, nil
}

func (t *Table) groupFor(kind hostKind, key string) *group {
	var m map[string]*group
	switch kind {
	case hostExact:
		m = t.exact
	case hostWildcard:
		m = t.wild
	default:
		if t.any == nil {
			t.any = &group{}
		}
		return t.any
	}
	g := m[key]
	if g == nil {
		g = &group{}
		m[key] = g
	}
	return g
}

func (g *group) add(p pathPattern, rt *route) {
	switch p.kind {
	case pathExact:
		if g.exact == nil {
			g.exact = make(map[string][]*route)
		}
		g.exact[p.text] = append(g.exact[p.text], rt)
	case pathParams:
		if g.params == nil {
			g.params = &node{}
		}
		g.params.insert(p.segs, rt)
	case pathPrefix:
		if g.prefix == nil {
			g.prefix = &node{}
		}
		g.prefix.insert(p.segs, rt)
	case pathRegex:
		for i := range g.regex {
			if g.regex[i].re.String() == p.text {
				g.regex[i].routes = append(g.regex[i].routes, rt)
				return
			}
		}
		g.regex = append(g.regex, regexRoutes{re: p.re, prefix: p.rePrefix, routes: []*route{rt}})
	case pathAny:
		g.any = append(g.any, rt)
	}
}

// finish puts every route list in precedence order. Routes were added in config order, so a
// stable sort on weight alone leaves config order as the last tie-break.
func (g *group) finish() {
	for _, rts := range g.exact {
		sortByWeight(rts)
	}
	if g.params != nil {
		g.params.finish()
	}
	if g.prefix != nil {
		g.prefix.finish()
	}
	for _, rr := range g.regex {
		sortByWeight(rr.routes)
	}
	sortByWeight(g.any)
}

func sortByWeight(rts []*route) {
	slices.SortStableFunc(rts, func(a, b *route) int { return b.weight - a.weight })
}

// Match returns the index of the Spec that takes r, or ok=false when none does. It resets
// r.Params (keeping its capacity) and appends the winning route's path parameters to it.
//
// Hosts are tried from the most specific group to the least (exact, each wildcard from the
// longest suffix, then host-less routes), and within a group the path forms in precedence
// order; a route whose host and path match but whose other predicates fail lets the search
// continue with the next candidate.
func (t *Table) Match(r *httpx.Request) (index int, ok bool) {
	r.Params = r.Params[:0]
	host := hostname(r.Host)
	if len(host) <= maxHostLen && (len(t.exact) > 0 || len(t.wild) > 0) {
		// Config hosts are stored lowercased; lowercasing the request host into a stack
		// buffer keeps the lookups allocation-free (m[string(b)] does not copy).
		var buf [maxHostLen]byte
		lower := buf[:len(host)]
		for i := 0; i < len(host); i++ {
			c := host[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			lower[i] = c
		}
		if g := t.exact[string(lower)]; g != nil {
			if rt := g.match(r); rt != nil {
				return rt.index, true
			}
		}
		if len(t.wild) > 0 {
			// Scanning dots from the left visits suffixes longest first; starting at 1 keeps
			// at least one byte of subdomain, so a wildcard never takes its apex.
			for i := 1; i < len(lower); i++ {
				if lower[i] != '.' {
					continue
				}
				if g := t.wild[string(lower[i:])]; g != nil {
					if rt := g.match(r); rt != nil {
						return rt.index, true
					}
				}
			}
		}
	}
	if t.any != nil {
		if rt := t.any.match(r); rt != nil {
			return rt.index, true
		}
	}
	return -1, false
}

func (g *group) match(r *httpx.Request) *route {
	path := r.Path
	if g.exact != nil {
		if rt := firstAccepting(g.exact[path], r); rt != nil {
			return rt
		}
	}
	// Tries hold patterns starting with "/"; an asterisk-form target ("OPTIONS *") or an
	// empty path can only meet regexes and catch-alls.
	if path != "" && path[0] == '/' {
		if g.params != nil {
			s := search{r: r, bestScore: -1}
			g.params.searchParams(path[1:], 0, &s)
			if s.best != nil {
				captureParams(s.best, path, r)
				return s.best
			}
		}
		if g.prefix != nil {
			s := search{r: r, bestScore: -1}
			g.prefix.searchPrefix(path[1:], 0, &s)
			if s.best != nil {
				captureParams(s.best, path, r)
				return s.best
			}
		}
	}
	for i := range g.regex {
		// Predicates are cheap and the regex is not, so find the route that would win
		// first and run the regex only if there is one.
		rr := &g.regex[i]
		if !strings.HasPrefix(path, rr.prefix) {
			continue
		}
		rt := firstAccepting(rr.routes, r)
		if rt != nil && rr.re.MatchString(path) {
			return rt
		}
	}
	return firstAccepting(g.any, r)
}

// hostname strips the port and one trailing dot from a Host header value. An IPv6 literal
// keeps its brackets.
func hostname(h string) string {
	if len(h) > 0 && h[0] == '[' {
		for i := 1; i < len(h); i++ {
			if h[i] == ']' {
				return h[:i+1]
			}
		}
		return h
	}
	for i := 0; i < len(h); i++ {
		if h[i] == ':' {
			h = h[:i]
			break
		}
	}
	if len(h) > 0 && h[len(h)-1] == '.' {
		h = h[:len(h)-1]
	}
	return h
}
