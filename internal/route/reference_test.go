package route

import (
	"regexp"
	"slices"
	"strings"

	"aya/internal/httpx"
)

// reference is a deliberately naive matcher used as a differential oracle: it sorts every spec
// by the precedence rules of docs/routing.md, written out as a comparison, and tries each spec
// in turn with plain string functions. It shares no matching code with Table.
type reference struct {
	specs []refSpec
}

type refSpec struct {
	index    int
	spec     Spec
	hostRank int    // 0 exact, 1 wildcard, 2 any
	host     string // exact host, or the suffix with its dot for a wildcard
	pathRank int    // 0 exact, 1 params, 2 prefix, 3 regex, 4 any
	path     string // exact path, params pattern, or prefix pattern without "/*"
	re       *regexp.Regexp
	reFirst  int // config index of the first spec with the same host and regex
	weight   int
}

func newReference(specs []Spec) *reference {
	ref := &reference{}
	for i, s := range specs {
		rs := refSpec{index: i, spec: s, hostRank: 2}
		switch {
		case s.Host == "" || s.Host == "*":
		case strings.HasPrefix(s.Host, "*."):
			rs.hostRank, rs.host = 1, strings.TrimSuffix(s.Host[1:], ".")
		default:
			rs.hostRank, rs.host = 0, strings.TrimSuffix(s.Host, ".")
		}
		src := s.PathRegex
		if strings.HasPrefix(s.Path, "~") {
			src = s.Path[1:]
		}
		switch {
		case src != "":
			rs.pathRank, rs.re = 3, regexp.MustCompile(src)
			rs.reFirst = i
			for _, o := range ref.specs {
				if o.pathRank == 3 && o.re.String() == src && o.hostRank == rs.hostRank && strings.EqualFold(o.host, rs.host) {
					rs.reFirst = o.reFirst
					break
				}
			}
		case s.Path == "" || s.Path == "/*":
			rs.pathRank = 4
		case strings.HasSuffix(s.Path, "/*"):
			rs.pathRank, rs.path = 2, strings.TrimSuffix(s.Path, "/*")
		case strings.Contains(s.Path, "{"):
			rs.pathRank, rs.path = 1, s.Path
		default:
			rs.pathRank, rs.path = 0, s.Path
		}
		if len(s.Methods) > 0 {
			rs.weight = 1
		}
		rs.weight += len(s.Headers) + len(s.Query)
		ref.specs = append(ref.specs, rs)
	}
	slices.SortStableFunc(ref.specs, func(a, b refSpec) int {
		if before(a, b) {
			return -1
		}
		if before(b, a) {
			return 1
		}
		return 0
	})
	return ref
}

// before says a wins over b when both match a request.
func before(a, b refSpec) bool {
	if a.hostRank != b.hostRank {
		return a.hostRank < b.hostRank
	}
	if a.hostRank == 1 && len(a.host) != len(b.host) {
		return len(a.host) > len(b.host)
	}
	if a.pathRank != b.pathRank {
		return a.pathRank < b.pathRank
	}
	switch a.pathRank {
	case 1:
		as, bs := strings.Split(a.path, "/"), strings.Split(b.path, "/")
		if la, lb := literals(as), literals(bs); la != lb {
			return la > lb
		}
		for i := 0; i < len(as) && i < len(bs); i++ {
			ap, bp := strings.HasPrefix(as[i], "{"), strings.HasPrefix(bs[i], "{")
			if ap != bp {
				return !ap
			}
		}
	case 2:
		as, bs := strings.Split(a.path, "/"), strings.Split(b.path, "/")
		if len(as) != len(bs) {
			return len(as) > len(bs)
		}
		for i := range as {
			ap, bp := strings.HasPrefix(as[i], "{"), strings.HasPrefix(bs[i], "{")
			if ap != bp {
				return !ap
			}
		}
	case 3:
		if a.reFirst != b.reFirst {
			return a.reFirst < b.reFirst
		}
	}
	if a.weight != b.weight {
		return a.weight > b.weight
	}
	return a.index < b.index
}

func literals(segs []string) int {
	n := 0
	for _, s := range segs {
		if !strings.HasPrefix(s, "{") {
			n++
		}
	}
	return n
}

// match returns the winning spec index and its parameters, or -1.
func (ref *reference) match(r *httpx.Request) (int, []httpx.Param) {
	for _, rs := range ref.specs {
		if !rs.hostMatches(r.Host) {
			continue
		}
		ok, ps := rs.pathMatches(r.Path)
		if ok && rs.predicatesMatch(r) {
			return rs.index, ps
		}
	}
	return -1, nil
}

func (rs refSpec) hostMatches(h string) bool {
	if rs.hostRank == 2 {
		return true
	}
	if strings.HasPrefix(h, "[") {
		if i := strings.Index(h, "]"); i >= 0 {
			h = h[:i+1]
		}
	} else {
		h, _, _ = strings.Cut(h, ":")
		h = strings.TrimSuffix(h, ".")
	}
	if len(h) > 253 {
		return false
	}
	if rs.hostRank == 0 {
		return httpx.EqualFold(h, rs.host)
	}
	return len(h) > len(rs.host) && httpx.EqualFold(h[len(h)-len(rs.host):], rs.host)
}

func (rs refSpec) pathMatches(p string) (bool, []httpx.Param) {
	switch rs.pathRank {
	case 0:
		return p == rs.path, nil
	case 1, 2:
		// A params pattern spans the whole path; a prefix its first segments, the path going
		// on with "/" or not at all.
		pat, got := strings.Split(rs.path, "/"), strings.Split(p, "/")
		if got[0] != "" || len(got) < len(pat) || rs.pathRank == 1 && len(got) != len(pat) {
			return false, nil
		}
		var ps []httpx.Param
		for i := range pat {
			switch {
			case strings.HasPrefix(pat[i], "{"):
				if got[i] == "" {
					return false, nil
				}
				ps = append(ps, httpx.Param{Name: strings.Trim(pat[i], "{}"), Value: got[i]})
			case pat[i] != got[i]:
				return false, nil
			}
		}
		return true, ps
	case 3:
		return rs.re.MatchString(p), nil
	}
	return true, nil
}

func (rs refSpec) predicatesMatch(r *httpx.Request) bool {
	if len(rs.spec.Listeners) > 0 && !slices.Contains(rs.spec.Listeners, r.Listener) {
		return false
	}
	if len(rs.spec.Methods) > 0 && !slices.ContainsFunc(rs.spec.Methods, func(m string) bool { return strings.ToUpper(m) == r.Method }) {
		return false
	}
	for name, want := range rs.spec.Headers {
		i := slices.IndexFunc(r.Header, func(f httpx.Field) bool { return strings.EqualFold(f.Name, name) })
		if i < 0 || want != "*" && r.Header[i].Value != want {
			return false
		}
	}
	for key, want := range rs.spec.Query {
		v, ok := httpx.QueryLookup(r.Query, key)
		if !ok || want != "*" && v != want {
			return false
		}
	}
	return true
}
