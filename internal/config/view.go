package config

import (
	"encoding"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Redacted is what GET /config shows in place of a secret.
const Redacted = "[redacted]"

// View is a config as the admin API shows it: every value by its YAML key, defaults applied,
// secrets replaced by Redacted, and where each value came from.
type View struct {
	File   string         `json:"file"`
	Config map[string]any `json:"config"`
	// Origins maps the path of every value ("routes[0].match.path") to "file:line" when the
	// value was written in the file, or "default".
	Origins map[string]string `json:"origins"`
}

// NewView renders c for the admin API.
func NewView(c *Config) View {
	v := View{File: c.File, Origins: map[string]string{}}
	w := viewWalker{c: c, origins: v.Origins}
	v.Config, _ = w.value(reflect.ValueOf(c).Elem(), "", false).(map[string]any)
	return v
}

type viewWalker struct {
	c       *Config
	origins map[string]string
}

func (w *viewWalker) origin(path string) string {
	if line, ok := w.c.ValueLine(path); ok {
		return w.c.File + ":" + strconv.Itoa(line)
	}
	return "default"
}

var textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()

// value renders v (at path) as JSON-ready data, recording the origin of every leaf.
func (w *viewWalker) value(v reflect.Value, path string, secret bool) any {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Type().Implements(textMarshalerType) {
		w.origins[path] = w.origin(path)
		b, _ := v.Interface().(encoding.TextMarshaler).MarshalText()
		if secret && len(b) > 0 {
			return Redacted
		}
		return string(b)
	}
	switch v.Kind() {
	case reflect.Struct:
		out := map[string]any{}
		t := v.Type()
		for i := range t.NumField() {
			name, ok := yamlName(t.Field(i))
			if !ok {
				continue
			}
			s := secret || t.Field(i).Tag.Get("secret") == "true" || secretName(name)
			out[name] = w.value(v.Field(i), joinPath(path, name), s)
		}
		return out
	case reflect.Slice:
		if v.IsNil() {
			return []any{}
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = w.value(v.Index(i), fmt.Sprintf("%s[%d]", path, i), secret)
		}
		return out
	case reflect.Map:
		out := map[string]any{}
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			ks := fmt.Sprint(k)
			out[ks] = w.value(v.MapIndex(k), joinPath(path, ks), secret || secretName(ks))
		}
		return out
	}
	w.origins[path] = w.origin(path)
	if secret && !v.IsZero() {
		return Redacted
	}
	return v.Interface()
}

// secretName guesses secrets by name, so that a key added later without a secret tag (an API
// key, an Authorization header) is still hidden.
func secretName(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"token", "secret", "password", "passwd", "api_key", "apikey", "api-key", "authorization", "credential", "cookie", "private"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}
