package observe

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
)

// RotatingFile is a log file that rotates by size: when a write would take it past MaxSize,
// path becomes path.1 (path.1 becomes path.2, and so on), the oldest beyond Keep is removed,
// and a new path is started. Safe for concurrent use.
type RotatingFile struct {
	path    string
	maxSize int64 // 0: never rotate
	keep    int   // rotated files kept

	mu   sync.Mutex
	f    *os.File
	size int64
}

// OpenRotating opens (appending to) or creates path. maxSize 0 turns rotation off, as does a
// path that is not a regular file (a device or a pipe).
func OpenRotating(path string, maxSize int64, keep int) (*RotatingFile, error) {
	if maxSize < 0 || keep < 0 {
		return nil, fmt.Errorf("log file %s: max size and files kept must not be negative", path)
	}
	r := &RotatingFile{path: path, maxSize: maxSize, keep: keep}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *RotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open log file: %w (check that the directory exists and aya may write there)", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open log file: %w", err)
	}
	r.f, r.size = f, st.Size()
	if !st.Mode().IsRegular() {
		// /dev/stdout, a named pipe: never rename those.
		r.maxSize = 0
	}
	return nil
}

// Write appends p, rotating first when p would not fit. A single write larger than MaxSize
// still goes whole into a fresh file: lines are never split.
func (r *RotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return 0, os.ErrClosed
	}
	if r.maxSize > 0 && r.size > 0 && r.size+int64(len(p)) > r.maxSize {
		if err := r.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

func (r *RotatingFile) rotate() error {
	if err := r.f.Close(); err != nil {
		return fmt.Errorf("rotate log file %s: %w", r.path, err)
	}
	r.f = nil
	if r.keep == 0 {
		if err := os.Remove(r.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("rotate log file %s: %w", r.path, err)
		}
	} else {
		os.Remove(r.backup(r.keep))
		for i := r.keep - 1; i >= 1; i-- {
			if err := os.Rename(r.backup(i), r.backup(i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("rotate log file %s: %w", r.path, err)
			}
		}
		if err := os.Rename(r.path, r.backup(1)); err != nil {
			return fmt.Errorf("rotate log file %s: %w", r.path, err)
		}
	}
	return r.open()
}

func (r *RotatingFile) backup(i int) string { return r.path + "." + strconv.Itoa(i) }

// Close closes the file; later writes fail.
func (r *RotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
