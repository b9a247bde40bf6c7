package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"

	"aya/internal/config"
)

// wantsPersist reports whether an admin target change asks to be written to the config file
// (?persist=true).
func wantsPersist(r *http.Request) (bool, error) {
	v := r.URL.Query().Get("persist")
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("persist must be true or false, got %q", v)
	}
	return b, nil
}

// persistTargets writes upstream name's targets — the config file's, with every addition and
// removal the admin API made — into the config file's upstreams[].targets, atomically (a temp
// file renamed over it). Targets found by discovery are not written. The rest of the file
// keeps its layout and comments; the edited file must still be a valid config, else nothing
// is written.
func (g *Gateway) persistTargets(name string) error {
	// g.mu also serializes reloads, so the file is not rewritten under a reload reading it,
	// nor by two persists at once.
	g.mu.Lock()
	defer g.mu.Unlock()
	cfg := g.snap.Load().cfg
	if cfg.File == "" {
		return errors.New("the running config did not come from a file; nothing to write to")
	}
	var file []config.Target
	for _, u := range cfg.Upstreams {
		if u.Name == name {
			file = u.Targets
		}
	}
	data, err := os.ReadFile(cfg.File)
	if err != nil {
		return fmt.Errorf("read %s: %w", cfg.File, err)
	}
	next, err := config.SetUpstreamTargets(data, name, g.reg.ConfiguredTargets(name, file))
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.File, err)
	}
	if _, err := config.Parse(cfg.File, next); err != nil {
		return fmt.Errorf("the config with the new targets does not validate, so it was not written: %w", err)
	}
	if _, err := persistConfig(cfg.File, next); err != nil {
		return err
	}
	return nil
}
