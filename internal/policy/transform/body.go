package transform

import (
	"errors"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"aya/internal/httpx"
)

// Body are edits of a JSON body by path ("user.name", "items.0.id", "\." for a dot inside a
// key), applied in this order: Remove, Rename, Set.
type Body struct {
	Remove []string
	Rename []Rename // From and To are paths
	Set    []JSONValue
	// MaxSize bounds the bytes buffered for editing.
	MaxSize int64
}

// JSONValue sets Path to Raw (JSON) when Value is nil, else to Value's result as a string.
type JSONValue struct {
	Path  string
	Raw   []byte
	Value *Template
}

// NewJSONValue reads a configured value: JSON when it parses as JSON and has no variables, a
// string otherwise.
func NewJSONValue(path, value string) (JSONValue, error) {
	t, err := Compile(value)
	if err != nil {
		return JSONValue{}, err
	}
	if _, ok := t.Constant(); !ok {
		return JSONValue{Path: path, Value: t}, nil
	}
	if gjson.Valid(value) {
		return JSONValue{Path: path, Raw: []byte(value)}, nil
	}
	return JSONValue{Path: path, Raw: appendJSONString(nil, value)}, nil
}

func (b *Body) empty() bool { return len(b.Remove) == 0 && len(b.Rename) == 0 && len(b.Set) == 0 }

var (
	errNotJSON   = errors.New("body is not valid JSON")
	errDuplicate = errors.New("duplicate key")
)

// apply returns body with the edits made. It refuses (errNotJSON, errDuplicate) rather than
// guess: a key that appears twice along an edited path would leave the other copy for a
// last-key-wins parser upstream to read, so a removal would not remove.
func (b *Body) apply(body []byte, r *httpx.Request) ([]byte, error) {
	if !gjson.ValidBytes(body) {
		return nil, errNotJSON
	}
	check := func(p string) error {
		if k, dup := duplicateAlong(body, p); dup {
			return &dupError{key: k}
		}
		return nil
	}
	for _, p := range b.Remove {
		if err := check(p); err != nil {
			return nil, err
		}
	}
	for _, rn := range b.Rename {
		if err := check(rn.From); err != nil {
			return nil, err
		}
		if err := check(rn.To); err != nil {
			return nil, err
		}
	}
	for _, s := range b.Set {
		if err := check(s.Path); err != nil {
			return nil, err
		}
	}
	var err error
	for _, p := range b.Remove {
		if body, err = sjson.DeleteBytes(body, p); err != nil {
			return nil, err
		}
	}
	for _, rn := range b.Rename {
		v := gjson.GetBytes(body, rn.From)
		if !v.Exists() {
			continue
		}
		raw := []byte(v.Raw)
		if body, err = sjson.DeleteBytes(body, rn.From); err != nil {
			return nil, err
		}
		if body, err = sjson.SetRawBytes(body, rn.To, raw); err != nil {
			return nil, err
		}
	}
	for _, s := range b.Set {
		raw := s.Raw
		if s.Value != nil {
			raw = appendJSONString(nil, s.Value.String(r, Text))
		}
		if body, err = sjson.SetRawBytes(body, s.Path, raw); err != nil {
			return nil, err
		}
	}
	return body, nil
}

type dupError struct{ key string }

func (e *dupError) Error() string { return "duplicate key " + strconv.Quote(e.key) }
func (e *dupError) Unwrap() error { return errDuplicate }

// duplicateAlong reports the first key along path that appears more than once in its object.
func duplicateAlong(body []byte, path string) (string, bool) {
	cur := gjson.ParseBytes(body)
	for _, key := range splitPath(path) {
		switch {
		case cur.IsObject():
			n := 0
			var next gjson.Result
			cur.ForEach(func(k, v gjson.Result) bool {
				if k.Str == key {
					if n == 0 {
						next = v
					}
					n++
				}
				return n < 2
			})
			if n > 1 {
				return key, true
			}
			if n == 0 {
				return "", false
			}
			cur = next
		case cur.IsArray():
			i, err := strconv.Atoi(key)
			if err != nil {
				return "", false
			}
			cur = cur.Get(strconv.Itoa(i))
			if !cur.Exists() {
				return "", false
			}
		default:
			return "", false
		}
	}
	return "", false
}

// splitPath splits a path on the dots a backslash does not escape, and unescapes the keys.
func splitPath(p string) []string {
	var keys []string
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\' && i+1 < len(p):
			i++
			b.WriteByte(p[i])
		case c == '.':
			keys = append(keys, b.String())
			b.Reset()
		default:
			b.WriteByte(c)
		}
	}
	return append(keys, b.String())
}

// isJSON reports whether a Content-Type names JSON: application/json or any +json type.
func isJSON(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(mt)
	return strings.EqualFold(mt, "application/json") ||
		len(mt) > 5 && strings.EqualFold(mt[len(mt)-5:], "+json") && strings.Contains(mt, "/")
}

// encoded reports whether a Content-Encoding other than identity applies.
func encoded(h httpx.Header) bool {
	v := strings.TrimSpace(h.Get("Content-Encoding"))
	return v != "" && !strings.EqualFold(v, "identity")
}
