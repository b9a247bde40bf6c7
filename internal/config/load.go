package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// maxConfigBytes bounds what Load reads, so pointing -c at a device or a huge file fails fast.
const maxConfigBytes = 16 << 20

// Load reads the config file at path, expands ${ENV} references, parses, applies defaults and
// validates it. Problems in the file come back as Errors (every one found, by line); a file
// that cannot be read comes back as a wrapped os error.
func Load(path string) (*Config, error) {
	data, err := readFileLimited(path, maxConfigBytes)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse is Load for a config already in memory. filename is used in error messages and as the
// base for relative file paths in the config (TLS certificates); "" means the working
// directory.
func Parse(filename string, data []byte) (*Config, error) {
	return parse(filename, data, os.LookupEnv)
}

func parse(filename string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	p := &problems{file: filename}
	if filename == "" {
		p.file = "config" // still reads as "config:3: reason"
	}
	data = expandEnv(data, lookup, p)
	if len(p.list) > 0 {
		// Parsing text with holes in it would only add confusing follow-on errors.
		return nil, p.err()
	}
	file, err := parseYAML(data)
	if err != nil {
		line := 0
		var se *yaml.SyntaxError
		if errors.As(err, &se) {
			if se.Token != nil && se.Token.Position != nil {
				line = se.Token.Position.Line
			}
			err = errors.New(se.Message)
		}
		p.add(line, "invalid YAML: %v", err)
		return nil, p.err()
	}
	var body ast.Node
	if len(file.Docs) > 0 {
		body = file.Docs[0].Body
	}
	if len(file.Docs) > 1 {
		p.add(nodeLine(file.Docs[1].Body), "the config must be one YAML document; remove the extra ---")
	}

	cfg := &Config{}
	v := reflect.ValueOf(cfg).Elem()
	d := newDecoder(p, body)
	body = d.resolve(body)
	switch {
	case isNull(body):
		applyDefault(v, reflect.StructField{})
	case !isMapping(body):
		p.add(nodeLine(body), "the config must be a mapping with the keys listeners, upstreams, routes, admin, shutdown and log; got %s", describe(body))
		return nil, p.err()
	default:
		d.decodeStruct(body, v, "", "", nodeLine(body))
	}
	cfg.File = filename

	dir := filepath.Dir(filename)
	if filename == "" {
		dir = "."
	}
	validate(cfg, p, d.lines, d.bad, dir)
	if err := p.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// parseYAML runs the YAML parser, turning a panic inside it into an error: a config tool must
// answer any input with a message, never a crash.
func parseYAML(data []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("the YAML parser failed on this input (%v)", r)
		}
	}()
	// Duplicate keys are reported by the decoder, which can name the object they are in.
	return parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
}

// readFileLimited reads a regular file of at most limit bytes.
func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return data, nil
}
