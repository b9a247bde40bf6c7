package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"aya/internal/config"
)

// maxConfigBody bounds a config sent to the admin API, as config.Load bounds a file.
const maxConfigBody = 16 << 20

// handleConfig is GET /config: the running config with secrets redacted and each value's
// origin, plus the reload status.
func (g *Gateway) handleConfig(w http.ResponseWriter, _ *http.Request) {
	v := config.NewView(g.snap.Load().cfg)
	writeJSON(w, 200, map[string]any{"file": v.File, "config": v.Config, "origins": v.Origins, "status": g.configStatus()})
}

// configStatus is the reload state shown by GET /config and GET /config/status.
func (g *Gateway) configStatus() map[string]any {
	st := map[string]any{
		"file":          g.snap.Load().cfg.File,
		"reloads":       g.reloads.Load(),
		"reload_errors": g.reloadErrors.Load(),
		"last_reload":   time.Unix(0, g.lastReload.Load()).UTC().Format(time.RFC3339Nano),
	}
	if e := g.lastReloadErr.Load(); e != nil {
		st["last_error"] = *e
	}
	return st
}

// readConfig parses the YAML config in a request body as if it were the running config's
// file: relative paths resolve beside it and problems read "file:line: reason".
func (g *Gateway) readConfig(r *http.Request) (*config.Config, []byte, error) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxConfigBody+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read the config from the request body: %w", err)
	}
	if len(data) > maxConfigBody {
		return nil, nil, fmt.Errorf("config larger than %d MiB", maxConfigBody>>20)
	}
	cfg, err := config.Parse(g.snap.Load().cfg.File, data)
	return cfg, data, err
}

// handleValidate is POST /config/validate: the body is checked as a reload would check it
// (parse, validation, building the snapshot), and nothing changes.
func (g *Gateway) handleValidate(w http.ResponseWriter, r *http.Request) {
	cfg, _, err := g.readConfig(r)
	if err == nil {
		err = Check(cfg)
	}
	if err != nil {
		writeConfigErrors(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{"valid": true})
}

// handlePutConfig is PUT /config: the body replaces the running config, atomically, as a
// reload of the file would. On any problem the running config keeps serving and the answer is
// 400 with every problem as file:line: reason. On success the config file is rewritten too,
// so that a restart or a reload from the file does not undo the change.
func (g *Gateway) handlePutConfig(w http.ResponseWriter, r *http.Request) {
	cfg, data, err := g.readConfig(r)
	if err != nil {
		g.ReloadFailed(err)
		writeConfigErrors(w, err)
		return
	}
	old := g.snap.Load().cfg
	changed := changedSections(old, cfg)
	auditNote(r, "changed", changed)
	if err := g.Reload(cfg); err != nil {
		writeConfigErrors(w, err)
		return
	}
	persisted, err := persistConfig(cfg.File, data)
	if err != nil {
		// The file is the source of truth after a restart: a change that cannot be written
		// there would silently vanish, so it is rolled back instead.
		if rerr := g.Reload(old); rerr != nil {
			g.log.Error("rolling back PUT /config failed; the new config keeps serving", "error", rerr)
		}
		writeJSON(w, 500, map[string]any{"error": map[string]any{"code": 500,
			"message": "config is valid but could not be saved, so it was not applied: " + err.Error()}})
		return
	}
	writeJSON(w, 200, map[string]any{"status": "reloaded", "persisted": persisted, "changed": changed})
}

// persistConfig replaces the config file with data (atomically: a temp file renamed over it,
// through a symlink to its target). A config that did not come from a file is not written.
func persistConfig(path string, data []byte) (bool, error) {
	if path == "" {
		return false, nil
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	st, err := os.Stat(real)
	if err != nil || !st.Mode().IsRegular() {
		return false, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(real), ".aya-config-*")
	if err != nil {
		return false, fmt.Errorf("write %s: %w (aya needs write access to the config's directory)", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(st.Mode().Perm()); err != nil {
		tmp.Close()
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), real); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	return true, nil
}

// changedSections names the top-level keys whose values differ, for the audit log. Line
// numbers do not count: moving a block in the file changes nothing.
func changedSections(old, next *config.Config) []string {
	out := []string{}
	ov, nv := reflect.ValueOf(old).Elem(), reflect.ValueOf(next).Elem()
	t := ov.Type()
	for i := range t.NumField() {
		name := t.Field(i).Tag.Get("yaml")
		if name == "" || name == "-" || !t.Field(i).IsExported() {
			continue
		}
		if !reflect.DeepEqual(withoutLines(ov.Field(i).Interface()), withoutLines(nv.Field(i).Interface())) {
			out = append(out, name)
		}
	}
	return out
}

// withoutLines is v as generic JSON data with every "Line" field dropped.
func withoutLines(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var data any
	json.Unmarshal(b, &data)
	var strip func(any)
	strip = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			delete(x, "Line")
			for _, e := range x {
				strip(e)
			}
		case []any:
			for _, e := range x {
				strip(e)
			}
		}
	}
	strip(data)
	return data
}

// writeConfigErrors answers 400 with every config problem, one per entry.
func writeConfigErrors(w http.ResponseWriter, err error) {
	type problem struct {
		File    string `json:"file,omitempty"`
		Line    int    `json:"line,omitempty"`
		Message string `json:"message"`
	}
	var es config.Errors
	var list []problem
	if errors.As(err, &es) {
		for _, e := range es {
			list = append(list, problem{File: e.File, Line: e.Line, Message: e.Msg})
		}
	} else {
		list = append(list, problem{Message: err.Error()})
	}
	writeJSON(w, 400, map[string]any{"error": map[string]any{"code": 400, "message": err.Error()}, "errors": list})
}
