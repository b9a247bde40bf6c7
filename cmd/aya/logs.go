package main

import (
	"fmt"
	"io"
	"os"

	"aya/internal/config"
	"aya/internal/observe"
)

// logOutput opens where aya's own log goes (log.output): stderr (the default), stdout, or a
// file rotated by size. Access logs have their own output, so errors never drown in traffic.
func logOutput(cfg config.Log, stderr io.Writer) (io.Writer, func(), error) {
	switch cfg.Output {
	case "", "stderr":
		return stderr, func() {}, nil
	case "stdout":
		return os.Stdout, func() {}, nil
	}
	f, err := observe.OpenRotating(cfg.Output, int64(cfg.MaxSize), cfg.MaxFiles)
	if err != nil {
		return nil, nil, fmt.Errorf("log.output: %w", err)
	}
	return f, func() { f.Close() }, nil
}
