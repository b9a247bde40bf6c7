package transform

import (
	"strings"

	"aya/internal/httpx"
)

// Fields are edits of named fields (headers or query parameters), applied in this order:
// Remove, Rename, Set (replace every field of the name with one), Add (append).
type Fields struct {
	Remove []string
	Rename []Rename
	Set    []Value
	Add    []Value
}

// Rename moves fields named From to To. A request that has From loses every To it had, so the
// renamed value cannot be shadowed by one the client sent under the new name.
type Rename struct{ From, To string }

// Value is a field to set or add; Value is compiled from the config.
type Value struct {
	Name  string
	Value *Template
}

func (f *Fields) empty() bool {
	return len(f.Remove) == 0 && len(f.Rename) == 0 && len(f.Set) == 0 && len(f.Add) == 0
}

// applyHeader edits h. With constant values it allocates nothing beyond growing h.
func (f *Fields) applyHeader(h *httpx.Header, r *httpx.Request) {
	for _, name := range f.Remove {
		h.Del(name)
	}
	for _, rn := range f.Rename {
		if !h.Has(rn.From) {
			continue
		}
		if !httpx.EqualFold(rn.From, rn.To) { // a change of case only must not delete From
			h.Del(rn.To)
		}
		for i := range *h {
			if httpx.EqualFold((*h)[i].Name, rn.From) {
				(*h)[i].Name = rn.To
			}
		}
	}
	for _, v := range f.Set {
		h.Set(v.Name, v.Value.String(r, Text))
	}
	for _, v := range f.Add {
		h.Add(v.Name, v.Value.String(r, Text))
	}
}

// applyQuery returns the raw query q with the edits applied. Names compare as written on the
// wire (case-sensitive, not decoded); set and add values are percent-encoded.
func (f *Fields) applyQuery(q string, r *httpx.Request) string {
	pairs := make([]httpx.Field, 0, 8)
	for q != "" {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		pairs = append(pairs, httpx.Field{Name: k, Value: v})
	}
	del := func(name string) {
		j := 0
		for _, p := range pairs {
			if p.Name != name {
				pairs[j] = p
				j++
			}
		}
		pairs = pairs[:j]
	}
	has := func(name string) bool {
		for _, p := range pairs {
			if p.Name == name {
				return true
			}
		}
		return false
	}
	for _, name := range f.Remove {
		del(name)
	}
	for _, rn := range f.Rename {
		if !has(rn.From) || rn.From == rn.To {
			continue
		}
		del(rn.To)
		for i := range pairs {
			if pairs[i].Name == rn.From {
				pairs[i].Name = rn.To
			}
		}
	}
	for _, v := range f.Set {
		val := string(v.Value.Append(nil, r, Query))
		set := false
		j := 0
		for _, p := range pairs {
			if p.Name == v.Name {
				if set {
					continue
				}
				p.Value, set = val, true
			}
			pairs[j] = p
			j++
		}
		pairs = pairs[:j]
		if !set {
			pairs = append(pairs, httpx.Field{Name: v.Name, Value: val})
		}
	}
	for _, v := range f.Add {
		pairs = append(pairs, httpx.Field{Name: v.Name, Value: string(v.Value.Append(nil, r, Query))})
	}
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.Name)
		b.WriteByte('=')
		b.WriteString(p.Value)
	}
	return b.String()
}
