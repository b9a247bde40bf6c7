package route

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
)

type pathKind uint8

// The order is the precedence order within a host group.
const (
	pathExact pathKind = iota
	pathParams
	pathPrefix
	pathRegex
	pathAny
)

// pathPattern is a parsed Path or PathRegex.
type pathPattern struct {
	kind pathKind
	// text is the exact path, or the prefix without its "/*" ("/a" for "/a/*"), or the regex
	// source.
	text string
	// segs are the segments after the leading "/", for params and prefix patterns (a prefix
	// may hold parameters too: "/tenants/{t}/*").
	segs   []patternSeg
	params []paramSeg
	re     *regexp.Regexp
	// rePrefix is a literal every match of re starts with, "" when there is none to check.
	rePrefix string
}

// patternSeg is one segment of a pattern: a literal, or a parameter when param is set.
type patternSeg struct {
	lit   string
	param bool
}

// paramSeg says that segment number seg (0 is the one after the leading "/") is captured as
// the parameter name.
type paramSeg struct {
	seg  int
	name string
}

// parsePath classifies and checks a Spec's Path and PathRegex, and returns the problem with
// the field name to report it under.
func parsePath(path, pathRegex string) (pathPattern, string, error) {
	switch {
	case pathRegex != "" && path != "":
		return pathPattern{}, "path_regex", fmt.Errorf("%q: set either path or path_regex, not both", pathRegex)
	case pathRegex != "":
		p, err := parseRegex(pathRegex)
		return p, "path_regex", err
	case strings.HasPrefix(path, "~"):
		p, err := parseRegex(path[1:])
		return p, "path", err
	case path == "" || path == "/*":
		return pathPattern{kind: pathAny}, "", nil
	}
	p, err := parsePathPattern(path)
	return p, "path", err
}

func parseRegex(src string) (pathPattern, error) {
	if src == "" {
		return pathPattern{}, errors.New("empty regex; write one after '~', as in \"~^/v[0-9]+/\"")
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return pathPattern{}, fmt.Errorf("%q: %w", src, err)
	}
	return pathPattern{kind: pathRegex, text: src, re: re, rePrefix: anchoredPrefix(src)}, nil
}

// anchoredPrefix returns the literal every match of an "^/literal..." regex starts with, or "".
// Checking it with strings.HasPrefix costs a few nanoseconds, where running the regex to
// reject a path costs tens, and configs that use regexes tend to have many of them.
func anchoredPrefix(src string) string {
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return ""
	}
	re = re.Simplify()
	if re.Op != syntax.OpConcat || len(re.Sub) < 2 || re.Sub[0].Op != syntax.OpBeginText {
		return ""
	}
	if lit := re.Sub[1]; lit.Op == syntax.OpLiteral && lit.Flags&syntax.FoldCase == 0 {
		return string(lit.Rune)
	}
	return ""
}

func parsePathPattern(path string) (pathPattern, error) {
	if path[0] != '/' {
		return pathPattern{}, fmt.Errorf("%q: must start with \"/\"", path)
	}
	for i := 0; i < len(path); i++ {
		switch c := path[i]; {
		case c == '?' || c == '#':
			return pathPattern{}, fmt.Errorf("%q: %q cannot appear in a path; match query parameters with query", path, c)
		case c <= ' ' || c >= 0x7f:
			return pathPattern{}, fmt.Errorf("%q: byte 0x%02x at offset %d must be percent-encoded, as clients send it", path, c, i)
		}
	}
	body, prefix := strings.CutSuffix(path, "/*")
	if i := strings.IndexByte(body, '*'); i >= 0 {
		if i == len(path)-1 {
			return pathPattern{}, fmt.Errorf("%q: '*' must be a whole final segment, as in \"/a/*\"", path)
		}
		return pathPattern{}, fmt.Errorf("%q: '*' not at the end; only a final \"/*\" is allowed, as in \"/a/*\"", path)
	}
	p := pathPattern{kind: pathExact, text: body}
	parts := strings.Split(body[1:], "/")
	for n, part := range parts {
		last := n == len(parts)-1
		if part == "" && (!last || prefix) {
			return pathPattern{}, fmt.Errorf("%q: empty segment (\"//\")", path)
		}
		seg, err := parseSegment(path, part)
		if err != nil {
			return pathPattern{}, err
		}
		if seg.param {
			for _, q := range p.params {
				if q.name == seg.lit {
					return pathPattern{}, fmt.Errorf("%q: parameter {%s} appears twice; give each a different name", path, seg.lit)
				}
			}
			p.params = append(p.params, paramSeg{seg: n, name: seg.lit})
		}
		p.segs = append(p.segs, seg)
	}
	switch {
	case prefix:
		p.kind = pathPrefix
	case len(p.params) > 0:
		p.kind = pathParams
	default:
		p.segs = nil
	}
	return p, nil
}

// parseSegment reads one segment; a parameter comes back with its name in lit.
func parseSegment(path, part string) (patternSeg, error) {
	open, closing := strings.Count(part, "{"), strings.Count(part, "}")
	switch {
	case open == 0 && closing == 0:
		return patternSeg{lit: part}, nil
	case open > closing:
		return patternSeg{}, fmt.Errorf("%q: unbalanced '{' in segment %q", path, part)
	case closing > open:
		return patternSeg{}, fmt.Errorf("%q: unbalanced '}' in segment %q", path, part)
	case open > 1 || part[0] != '{' || part[len(part)-1] != '}':
		return patternSeg{}, fmt.Errorf("%q: a parameter must be a whole segment, as in \"/users/{id}\" (segment %q)", path, part)
	}
	name := part[1 : len(part)-1]
	if name == "" {
		return patternSeg{}, fmt.Errorf("%q: empty parameter name in \"{}\"", path)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return patternSeg{}, fmt.Errorf("%q: parameter name %q: use letters, digits, '-', '_' and '.'", path, name)
		}
	}
	return patternSeg{lit: name, param: true}, nil
}
