package config

import (
	"net/url"
	"os"
	"path/filepath"
	"slices"
)

// Log configures aya's own logs (errors, reloads, admin audit), kept apart from access logs.
type Log struct {
	Level  string `yaml:"level" default:"info"`  // debug, info, warn, error
	Format string `yaml:"format" default:"json"` // json or text
	// Output is stderr, stdout or a file path (relative to the config file's directory).
	Output   string `yaml:"output" default:"stderr"`
	MaxSize  Size   `yaml:"max_size" default:"100MB"` // a file is rotated at this size; 0: never
	MaxFiles int    `yaml:"max_files" default:"5"`    // rotated files kept
}

// AccessLog configures the one line per request.
type AccessLog struct {
	Enabled bool   `yaml:"enabled" default:"true"`
	Format  string `yaml:"format" default:"json"` // json (slog's JSON shape) or common
	// Output is stdout, stderr or a file path (relative to the config file's directory).
	Output   string `yaml:"output" default:"stdout"`
	MaxSize  Size   `yaml:"max_size" default:"100MB"` // a file is rotated at this size; 0: never
	MaxFiles int    `yaml:"max_files" default:"5"`    // rotated files kept
	// Sample is the share of requests logged; failed ones (5xx, aya's own errors) always are.
	Sample Ratio `yaml:"sample" default:"100%"`
	// Buffer bounds the lines waiting for the output; lines beyond it are dropped and counted
	// (aya_access_log_dropped_total) so that a slow output never slows requests.
	Buffer Size `yaml:"buffer" default:"4MB"`
}

// Tracing exports OpenTelemetry spans over OTLP. Absent: no tracing, and no cost.
type Tracing struct {
	Line int `yaml:"-"`

	// Endpoint is the collector's URL: http://host:4317 for OTLP/gRPC without TLS,
	// https:// with TLS; for protocol http, like http://host:4318/v1/traces.
	Endpoint string            `yaml:"endpoint"`
	Protocol string            `yaml:"protocol" default:"grpc"` // grpc or http
	Headers  map[string]string `yaml:"headers" secret:"true"`   // sent with every export
	// Sample is the share of new traces recorded; requests that carry a trace context follow
	// their parent's decision.
	Sample        Ratio    `yaml:"sample" default:"100%"`
	ServiceName   string   `yaml:"service_name" default:"aya"`
	Timeout       Duration `yaml:"timeout" default:"10s"`       // one export
	FlushInterval Duration `yaml:"flush_interval" default:"5s"` // longest a span waits to be sent
}

// LogOutputIsFile reports whether out names a file rather than stdout or stderr.
func LogOutputIsFile(out string) bool { return out != "stdout" && out != "stderr" }

// ValueLine returns the line in File where the value at path was written: paths are YAML keys
// joined by dots, with list indexes, as in "routes[0].match.path". ok is false for a value
// that came from a default (or a Config not made by Load or Parse).
func (c *Config) ValueLine(path string) (line int, ok bool) {
	line, ok = c.lines[path]
	return line, ok
}

func (v *validator) observe(cfg *Config) {
	cfg.lines = v.lines
	l := &cfg.Log
	v.logOutput(&l.Output, "log", l.MaxSize, l.MaxFiles)

	a := &cfg.AccessLog
	switch a.Format {
	case "json", "common":
	default:
		v.errAt("access_log.format", v.line("access_log", 0), "access_log: invalid format %q: use json or common%s", a.Format,
			didYouMean(a.Format, []string{"json", "common"}))
	}
	v.logOutput(&a.Output, "access_log", a.MaxSize, a.MaxFiles)
	if a.Sample > 1 {
		v.errAt("access_log.sample", v.line("access_log", 0), "access_log: sample must be at most 100%%")
	}
	if a.Buffer < 4<<10 {
		v.errAt("access_log.buffer", v.line("access_log", 0), "access_log: buffer %s is too small: use at least 4KB (the default is 4MB)", a.Buffer)
	}

	if t := cfg.Tracing; t != nil {
		u, err := url.Parse(t.Endpoint)
		switch {
		case t.Endpoint == "":
			v.errAt("tracing.endpoint", t.Line, "tracing: endpoint is required: the collector's URL, like http://127.0.0.1:4317 (remove tracing to turn it off)")
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			v.errAt("tracing.endpoint", t.Line, "tracing: endpoint %q: write the collector's URL with http:// or https://, like http://127.0.0.1:4317", t.Endpoint)
		}
		protocols := []string{"grpc", "http"}
		if !slices.Contains(protocols, t.Protocol) {
			v.errAt("tracing.protocol", t.Line, "tracing: invalid protocol %q: use grpc or http%s", t.Protocol, didYouMean(t.Protocol, protocols))
		}
		if t.Sample > 1 {
			v.errAt("tracing.sample", t.Line, "tracing: sample must be at most 100%%")
		}
		if t.Timeout <= 0 {
			v.errAt("tracing.timeout", t.Line, "tracing: timeout must be more than 0")
		}
		if t.FlushInterval <= 0 {
			v.errAt("tracing.flush_interval", t.Line, "tracing: flush_interval must be more than 0")
		}
	}
}

// logOutput checks a log output and resolves a file path against the config's directory.
func (v *validator) logOutput(out *string, key string, maxSize Size, maxFiles int) {
	line := v.line(key+".output", v.line(key, 0))
	if maxSize < 0 {
		v.errAt(key+".max_size", line, "%s: max_size must not be negative", key)
	}
	if maxFiles < 0 {
		v.errAt(key+".max_files", line, "%s: max_files must not be negative", key)
	}
	if !LogOutputIsFile(*out) {
		return
	}
	if *out == "" {
		v.errAt(key+".output", line, "%s: output is empty: write stdout, stderr or a file path", key)
		return
	}
	p := *out
	if !filepath.IsAbs(p) {
		p = filepath.Join(v.dir, p)
	}
	if st, err := os.Stat(filepath.Dir(p)); err != nil || !st.IsDir() {
		v.errAt(key+".output", line, "%s: output %q: directory %s does not exist: create it or write stdout", key, *out, filepath.Dir(p))
		return
	}
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		v.errAt(key+".output", line, "%s: output %q is a directory: name a file in it", key, *out)
		return
	}
	*out = p
}
