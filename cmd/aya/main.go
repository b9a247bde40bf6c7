// Command aya is the gateway: `aya run -c aya.yaml` serves a config, `aya validate` checks one,
// `aya demo` starts a self-contained demo, `aya version` prints the build.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"aya/internal/config"
	"aya/internal/gateway"
)

// version is set at build time (-ldflags -X main.version=...); otherwise the module's.
var version = ""

const usage = `aya — a gateway: load balancer, API gateway, LLM gateway, adaptive TPS balancer.

Usage:
  aya run -c aya.yaml        serve a config (SIGHUP or a file change reloads, SIGTERM drains)
  aya validate -c aya.yaml   print "ok", or each problem as file:line: reason (exit 1)
  aya demo [--listen ADDR] [--admin ADDR] [--latency D] [--error-rate F]
                             start demo backends and a gateway over them, no file needed
  aya tps simulate|evaluate|generate|train
                             run the adaptive TPS balancer offline (aya tps help)
  aya version                print the version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], stderr)
	case "validate":
		return cmdValidate(args[1:], stdout, stderr)
	case "demo":
		return cmdDemo(args[1:], stdout, stderr)
	case "tps":
		return cmdTPS(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "aya", buildVersion())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "aya: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func configFlag(name string, args []string, stderr io.Writer) (string, bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "aya.yaml", "config file")
	fs.StringVar(path, "config", "aya.yaml", "config file")
	if err := fs.Parse(args); err != nil {
		return "", false
	}
	return *path, true
}

func cmdValidate(args []string, stdout, stderr io.Writer) int {
	path, ok := configFlag("validate", args, stderr)
	if !ok {
		return 2
	}
	cfg, err := config.Load(path)
	if err == nil {
		err = gateway.Check(cfg)
	}
	if err != nil {
		printConfigError(stdout, err)
		return 1
	}
	fmt.Fprintln(stdout, "ok")
	return 0
}

// printConfigError prints one "file:line: reason" per problem.
func printConfigError(w io.Writer, err error) {
	var es config.Errors
	if errors.As(err, &es) {
		for _, e := range es {
			fmt.Fprintln(w, e.Error())
		}
		return
	}
	fmt.Fprintln(w, err.Error())
}

func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func cmdRun(args []string, stderr io.Writer) int {
	path, ok := configFlag("run", args, stderr)
	if !ok {
		return 2
	}
	cfg, err := config.Load(path)
	if err != nil {
		printConfigError(stderr, err)
		return 1
	}
	logOut, closeLog, err := logOutput(cfg.Log, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "aya: %v\n", err)
		return 1
	}
	defer closeLog()
	log := newLogger(cfg.Log, logOut)
	slog.SetDefault(log)
	g, err := gateway.New(cfg, log)
	if err != nil {
		printConfigError(stderr, err)
		return 1
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	if err := g.Start(ctx); err != nil {
		log.Error("start failed", "error", err)
		return 1
	}

	reload := make(chan struct{}, 1)
	go func() {
		err := config.Watch(ctx, path, func() {
			select {
			case reload <- struct{}{}:
			default:
			}
		})
		if err != nil && ctx.Err() == nil {
			log.Warn("config file watching is off; reload with SIGHUP", "error", err)
		}
	}()
	return serveUntilSignal(ctx, g, log, cfg.Shutdown.DrainTimeout.D(), reload, func() {
		next, err := config.Load(path)
		if err != nil {
			g.ReloadFailed(err)
			return
		}
		g.Reload(next)
	})
}

// serveUntilSignal reloads on SIGHUP or a watched change and drains on SIGTERM/SIGINT.
func serveUntilSignal(ctx context.Context, g *gateway.Gateway, log *slog.Logger, drain time.Duration, reload <-chan struct{}, doReload func()) int {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	for {
		select {
		case <-reload:
			doReload()
		case s := <-sigs:
			if s == syscall.SIGHUP {
				doReload()
				continue
			}
			log.Info("draining", "signal", s.String(), "timeout", drain)
			sctx, cancel := context.WithTimeout(ctx, drain)
			err := g.Shutdown(sctx)
			cancel()
			if err != nil {
				log.Warn("drain ended with requests still in flight", "error", err)
			}
			log.Info("stopped")
			return 0
		}
	}
}
