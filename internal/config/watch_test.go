package config

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// startWatch runs watch on path until the test ends and returns the channel its changes
// arrive on.
func startWatch(t *testing.T, path string) <-chan struct{} {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	changes := make(chan struct{}, 16)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- watch(ctx, path, func() { changes <- struct{}{} }, func() { close(ready) })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("watch returned %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("watch did not return after cancel")
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("watch failed to start: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not start")
	}
	return changes
}

func expectChange(t *testing.T, changes <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-changes:
	case <-time.After(5 * time.Second):
		t.Fatalf("no change reported after %s", what)
	}
	// A burst normally collapses into one notification; a loaded machine may stretch it past
	// the debounce and report twice, which a reload tolerates, so extra ones are drained.
	for {
		select {
		case <-changes:
		case <-time.After(3 * debounce):
			return
		}
	}
}

func expectQuiet(t *testing.T, changes <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-changes:
		t.Fatalf("change reported after %s", what)
	case <-time.After(5 * debounce):
	}
}

func TestWatchWriteInPlace(t *testing.T) {
	file := filepath.Join(t.TempDir(), "aya.yaml")
	write(t, file, "a: 1\n")
	changes := startWatch(t, file)

	f, err := os.OpenFile(file, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Truncate and write in pieces, as a slow writer would: one notification.
	for _, piece := range []string{"a: ", "2", "\n"} {
		if _, err := f.WriteString(piece); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	expectChange(t, changes, "writing the file")

	write(t, file, "a: 2\n")
	expectQuiet(t, changes, "rewriting the same content")
	write(t, filepath.Join(filepath.Dir(file), "other.yaml"), "x")
	expectQuiet(t, changes, "writing another file in the directory")
}

func TestWatchRenameReplace(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "aya.yaml")
	write(t, file, "a: 1\n")
	changes := startWatch(t, file)

	// What editors do: write a new file beside, then rename it over the original.
	tmp := filepath.Join(dir, ".aya.yaml.swp")
	write(t, tmp, "a: 2\n")
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
	expectChange(t, changes, "rename-replace")

	// The watch survives the replacement: the new file is watched as well.
	write(t, tmp, "a: 3\n")
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
	expectChange(t, changes, "a second rename-replace")

	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	expectChange(t, changes, "deleting the file")
	write(t, file, "a: 3\n")
	expectChange(t, changes, "restoring the file")
}

// TestWatchSymlinkSwap replays a Kubernetes ConfigMap update: aya.yaml -> ..data/aya.yaml,
// ..data -> a timestamped directory, and an update swaps ..data atomically.
func TestWatchSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	mkVersion := func(name, content string) {
		if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, name, "aya.yaml"), content)
	}
	mkVersion("..2026_01", "a: 1\n")
	if err := os.Symlink("..2026_01", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "aya.yaml")
	if err := os.Symlink(filepath.Join("..data", "aya.yaml"), file); err != nil {
		t.Fatal(err)
	}
	changes := startWatch(t, file)

	swap := func(version, content string) {
		mkVersion(version, content)
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(version, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	swap("..2026_02", "a: 2\n")
	expectChange(t, changes, "swapping the ..data symlink")
	if err := os.RemoveAll(filepath.Join(dir, "..2026_01")); err != nil {
		t.Fatal(err)
	}
	expectQuiet(t, changes, "removing the old version")
	swap("..2026_03", "a: 3\n")
	expectChange(t, changes, "a second swap")
}

func TestWatchSymlinkToAnotherDirectory(t *testing.T) {
	real := filepath.Join(t.TempDir(), "real.yaml")
	write(t, real, "a: 1\n")
	link := filepath.Join(t.TempDir(), "aya.yaml")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	changes := startWatch(t, link)
	write(t, real, "a: 2\n")
	expectChange(t, changes, "editing the symlink's target")
}

func TestWatchMissingDirectory(t *testing.T) {
	err := Watch(context.Background(), filepath.Join(t.TempDir(), "no", "aya.yaml"), func() {})
	if err == nil {
		t.Fatal("Watch of a file in a missing directory returned nil")
	}
}
