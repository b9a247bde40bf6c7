package upstream

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"aya/internal/config"
)

// fileSource keeps an upstream's discovered targets in step with a targets file (or a
// directory of them).
type fileSource struct {
	cfg    config.FileDiscovery
	cancel context.CancelFunc
}

func startFileSource(r *Registry, us *upstreamState, cfg config.FileDiscovery) *fileSource {
	ctx, cancel := context.WithCancel(r.ctx)
	fs := &fileSource{cfg: cfg, cancel: cancel}
	log := us.log.With("targets_file", cfg.Path)
	changed := make(chan struct{}, 1)
	if st, err := os.Stat(cfg.Path); err == nil && !st.IsDir() {
		// A file is watched, so an edit applies at once; the refresh is the fallback (a
		// directory is only read every refresh).
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			// WatchNotify re-reads once the watch is in place: an edit made after the first
			// read but before the watch existed would otherwise wait for the refresh.
			if err := config.WatchNotify(ctx, cfg.Path, func() {
				select {
				case changed <- struct{}{}:
				default:
				}
			}); err != nil {
				log.Warn("cannot watch the targets file; reading it every refresh", "error", err)
			}
		}()
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		var last []byte
		for {
			data, err := readTargets(cfg.Path)
			switch {
			case err != nil:
				log.Warn("reading the targets file failed; keeping the targets read before", "error", err)
			case last != nil && bytes.Equal(data, last):
			default:
				last = data
				if err := us.applyFile(r, cfg.Path, data); err != nil {
					log.Warn("the targets file has a problem; keeping the targets read before", "error", err)
				} else {
					log.Info("targets file applied")
				}
			}
			t := time.NewTimer(cfg.Refresh.D())
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-changed:
				t.Stop()
			case <-t.C:
			}
		}
	}()
	return fs
}

// readTargets returns the file's bytes, or those of every .yaml, .yml and .json file of the
// directory in name order, each as one YAML document.
func readTargets(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return os.ReadFile(path)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".yaml", ".yml", ".json":
		default:
			continue
		}
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(path, e.Name()))
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&out, "# %s\n", e.Name())
		out.Write(b)
		out.WriteString("\n\x00") // a separator no YAML file holds
	}
	return out.Bytes(), nil
}

// parseTargetFiles parses what readTargets returned (one file, or a directory's files) into
// targets sorted by URL.
func parseTargetFiles(path string, data []byte) ([]config.Target, error) {
	if !bytes.Contains(data, []byte{0}) {
		ts, err := config.ParseTargets(path, data)
		sort.Slice(ts, func(i, j int) bool { return ts[i].URL < ts[j].URL })
		return ts, err
	}
	var all []config.Target
	for doc := range bytes.SplitSeq(data, []byte{0}) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		name := path
		if first, _, ok := bytes.Cut(doc, []byte("\n")); ok {
			name = filepath.Join(path, strings.TrimPrefix(string(first), "# "))
		}
		ts, err := config.ParseTargets(name, doc)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			if slices.ContainsFunc(all, func(o config.Target) bool { return o.URL == t.URL }) {
				return nil, fmt.Errorf("%s: %s is listed in another file of the directory too", name, t.URL)
			}
			all = append(all, t)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].URL < all[j].URL })
	return all, nil
}

// applyFile makes the file's targets the upstream's discovered ones, in one atomic swap that
// keeps unchanged targets and their connections. A file that does not parse changes nothing.
func (us *upstreamState) applyFile(r *Registry, path string, data []byte) error {
	specs, err := parseTargetFiles(path, data)
	if err != nil {
		return err
	}
	us.mu.Lock()
	changed := !slices.EqualFunc(us.overlay.discovered, specs, sameSpec)
	us.overlay.discovered = specs
	us.mu.Unlock()
	if !changed {
		return nil
	}
	return us.reapply(r)
}
