package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"
)

// SetUpstreamTargets returns the config file data with the targets of upstream name replaced
// by targets, for the admin API's persist. Only that key is rewritten (as a flow list); the
// rest of the file keeps its layout and comments as far as the YAML printer allows.
func SetUpstreamTargets(data []byte, name string, targets []Target) ([]byte, error) {
	var doc struct {
		Upstreams []struct {
			Name    string `yaml:"name"`
			Targets any    `yaml:"targets"`
		} `yaml:"upstreams"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("read the config file: %w", err)
	}
	idx := -1
	for i, u := range doc.Upstreams {
		if u.Name == name {
			idx = i
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("the config file has no upstream named %q (was it defined by an include or an environment variable?)", name)
	}
	file, err := parser.ParseBytes(data, parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("read the config file: %w", err)
	}
	list := flowTargets(targets)
	if doc.Upstreams[idx].Targets != nil {
		p, err := yaml.PathString(fmt.Sprintf("$.upstreams[%d].targets", idx))
		if err == nil {
			err = p.ReplaceWithReader(file, strings.NewReader(list))
		}
		if err != nil {
			return nil, fmt.Errorf("rewrite upstreams[%d].targets: %w", idx, err)
		}
	} else {
		p, err := yaml.PathString(fmt.Sprintf("$.upstreams[%d]", idx))
		if err == nil {
			err = p.MergeFromReader(file, strings.NewReader("targets: "+list))
		}
		if err != nil {
			return nil, fmt.Errorf("add upstreams[%d].targets: %w", idx, err)
		}
	}
	out := file.String()
	if !strings.HasSuffix(out, "\n") {
		out += "\n"
	}
	return []byte(out), nil
}

// flowTargets writes targets as a YAML flow list: a bare URL for a target with only defaults,
// else an object with the keys that differ from them.
func flowTargets(targets []Target) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, t := range targets {
		if i > 0 {
			b.WriteString(", ")
		}
		var keys []string
		if t.Weight != 1 && t.Weight != 0 {
			keys = append(keys, "weight: "+strconv.Itoa(t.Weight))
		}
		if t.Protocol == ProtocolH2 && t.Scheme == SchemeHTTPS {
			keys = append(keys, "protocol: h2")
		}
		if t.Priority != 0 {
			keys = append(keys, "priority: "+strconv.Itoa(t.Priority))
		}
		if t.Backup {
			keys = append(keys, "backup: true")
		}
		if t.Zone != "" {
			keys = append(keys, "zone: "+strconv.Quote(t.Zone))
		}
		if len(keys) == 0 {
			b.WriteString(strconv.Quote(t.URL))
			continue
		}
		b.WriteString("{url: " + strconv.Quote(t.URL) + ", " + strings.Join(keys, ", ") + "}")
	}
	b.WriteByte(']')
	return b.String()
}
