package config

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// debounce is how long the file must stay quiet before a change is reported: editors and
// config-map updates touch a file several times in a burst, and one reload should follow.
const debounce = 100 * time.Millisecond

// Watch calls onChange whenever the content of the config file at path changes, until ctx is
// done; it then returns nil. It returns an error only when watching cannot start (the
// directory holding path does not exist, or inotify is exhausted).
//
// It watches the directory, not the file, so it sees the usual ways a config is replaced:
// written in place, written to a temporary file and renamed over it (editors), and a
// Kubernetes ConfigMap's "..data" symlink swap. When path is a symlink, the directory of its
// target is watched too. Changes are debounced by 100ms and reported only when the bytes
// differ from the last seen (a deleted file counts as a change, so the caller can report it);
// the caller reloads with Load. onChange runs on Watch's goroutine: a slow onChange delays,
// but never loses, the next notification.
func Watch(ctx context.Context, path string, onChange func()) error {
	return watch(ctx, path, onChange, nil)
}

// WatchNotify is Watch that also calls onChange once, as soon as the watch is in place, so a
// caller that read the file before watching cannot miss a change made in between.
func WatchNotify(ctx context.Context, path string, onChange func()) error {
	return watch(ctx, path, onChange, onChange)
}

// watch is Watch with a ready callback, called once the watches are in place, so tests can
// change the file only after the watcher can see it.
func watch(ctx context.Context, path string, onChange func(), ready func()) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("watch config %s: %w", path, err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch config %s: %w", path, err)
	}
	defer w.Close()
	if err := w.Add(filepath.Dir(abs)); err != nil {
		return fmt.Errorf("watch config %s: watch its directory: %w", path, err)
	}
	fw := &fileWatch{path: abs, w: w, dirs: map[string]bool{filepath.Dir(abs): true}}
	fw.followTarget()
	last := fingerprint(abs)
	if ready != nil {
		ready()
	}

	timer := time.NewTimer(debounce)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if fw.relevant(ev.Name) {
				timer.Reset(debounce)
			}
		case _, ok := <-w.Errors:
			if !ok {
				return nil
			}
			// An error (usually a queue overflow) means events were lost: look again.
			timer.Reset(debounce)
		case <-timer.C:
			fw.followTarget()
			if fp := fingerprint(abs); fp != last {
				last = fp
				onChange()
			}
		}
	}
}

// fileWatch tracks which directories and names matter for one config path.
type fileWatch struct {
	path   string // absolute path as given
	target string // path with symlinks resolved, "" when it does not resolve
	w      *fsnotify.Watcher
	dirs   map[string]bool // directories being watched
}

// followTarget resolves the path's symlinks and watches the target's directory, so edits of
// a file reached through a symlink elsewhere are seen too.
func (f *fileWatch) followTarget() {
	target, err := filepath.EvalSymlinks(f.path)
	if err != nil {
		f.target = ""
		return
	}
	f.target = target
	dir := filepath.Dir(target)
	if !f.dirs[dir] && f.w.Add(dir) == nil {
		f.dirs[dir] = true
	}
}

// relevant reports whether an event on name may change the config's content: the file
// itself, its symlink target, or a Kubernetes "..data"-style entry beside it.
func (f *fileWatch) relevant(name string) bool {
	name = filepath.Clean(name)
	return name == f.path || name == f.target ||
		(filepath.Dir(name) == filepath.Dir(f.path) && strings.HasPrefix(filepath.Base(name), ".."))
}

// fingerprint identifies the file's current content; a missing or unreadable file has its
// own fingerprint so that deleting and restoring it are both changes.
func fingerprint(path string) string {
	data, err := readFileLimited(path, maxConfigBytes)
	if err != nil {
		return "error: " + err.Error()
	}
	sum := sha256.Sum256(data)
	return string(sum[:])
}
