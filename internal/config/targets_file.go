package config

import (
	"fmt"
	"slices"

	"github.com/goccy/go-yaml"
)

// ParseTargets reads a targets file for discovery: a YAML (or JSON) list whose items are a
// target URL or an object with a target's keys (url, weight, priority, backup, zone). name is
// the file's name, for errors.
func ParseTargets(name string, data []byte) ([]Target, error) {
	var items []any
	if err := yaml.Unmarshal(data, &items); err != nil {
		return nil, fmt.Errorf("%s: %w: write a list of targets, like [\"http://10.0.0.1:9000\", {url: \"http://10.0.0.2:9000\", weight: 2}]", name, err)
	}
	out := make([]Target, 0, len(items))
	for i, item := range items {
		t, err := fileTarget(item)
		if err != nil {
			return nil, fmt.Errorf("%s: target #%d: %w", name, i+1, err)
		}
		if slices.ContainsFunc(out, func(o Target) bool { return o.URL == t.URL }) {
			return nil, fmt.Errorf("%s: target #%d: %s is listed twice", name, i+1, t.URL)
		}
		out = append(out, t)
	}
	return out, nil
}

func fileTarget(item any) (Target, error) {
	switch v := item.(type) {
	case string:
		return NewTarget(v, 1)
	case map[string]any:
		known := []string{"url", "weight", "priority", "backup", "zone"}
		for k := range v {
			if !slices.Contains(known, k) {
				return Target{}, fmt.Errorf("unknown key %q%s", k, didYouMean(k, known))
			}
		}
		url, ok := v["url"].(string)
		if !ok {
			return Target{}, fmt.Errorf("url is required, like {url: \"http://10.0.0.1:9000\"}")
		}
		weight, err := intKey(v, "weight", 1)
		if err != nil {
			return Target{}, err
		}
		t, err := NewTarget(url, weight)
		if err != nil {
			return Target{}, err
		}
		if t.Priority, err = intKey(v, "priority", 0); err != nil {
			return Target{}, err
		}
		if t.Priority < 0 || t.Priority > 100 {
			return Target{}, fmt.Errorf("priority must be from 0 to 100, got %d", t.Priority)
		}
		if b, ok := v["backup"]; ok {
			if t.Backup, ok = b.(bool); !ok {
				return Target{}, fmt.Errorf("backup must be true or false")
			}
		}
		if z, ok := v["zone"]; ok {
			if t.Zone, ok = z.(string); !ok {
				return Target{}, fmt.Errorf("zone must be a string")
			}
		}
		return t, nil
	}
	return Target{}, fmt.Errorf("write a URL or an object like {url: \"http://10.0.0.1:9000\", weight: 2}")
}

func intKey(m map[string]any, key string, def int) (int, error) {
	v, ok := m[key]
	if !ok {
		return def, nil
	}
	switch n := v.(type) {
	case uint64:
		return int(min(n, 1<<31)), nil
	case int64:
		return int(max(min(n, 1<<31), -1<<31)), nil
	case int:
		return n, nil
	case float64:
		if n == float64(int(n)) {
			return int(n), nil
		}
	}
	return 0, fmt.Errorf("%s must be a whole number, got %v", key, v)
}
