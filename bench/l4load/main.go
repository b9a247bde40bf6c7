// Command l4load is the backend and the load generator of bench/l4.sh: a TCP server that
// discards streams and answers pings, and two clients, one measuring throughput (a few
// long connections writing as fast as they can) and one measuring connection rate (each
// connection: connect, one byte each way, close).
//
//	l4load serve -addr 127.0.0.1:18101
//	l4load tput  -addr 127.0.0.1:18090 -conns 4  -duration 5s   prints "bytes N seconds S"
//	l4load rate  -addr 127.0.0.1:18090 -conns 32 -duration 5s   prints "conns N errors E seconds S"
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

const (
	modeSink = 'S' // the client streams bytes until it closes
	modePing = 'P' // the server answers one byte, then waits for the close
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: l4load serve|tput|rate -addr host:port [-conns N] [-duration D]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:18101", "address to serve on or to connect to")
	conns := fs.Int("conns", 4, "concurrent connections (tput) or workers (rate)")
	duration := fs.Duration("duration", 5*time.Second, "how long to measure")
	fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(*addr)
	case "tput":
		err = throughput(*addr, *conns, *duration)
	case "rate":
		err = rate(*addr, *conns, *duration)
	default:
		err = fmt.Errorf("unknown mode %q: use serve, tput or rate", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "l4load:", err)
		os.Exit(1)
	}
}

func serve(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			var b [1]byte
			if _, err := io.ReadFull(c, b[:]); err != nil {
				return
			}
			if b[0] == modePing {
				c.Write(b[:])
			}
			io.Copy(io.Discard, c)
		}()
	}
}

func throughput(addr string, conns int, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var total atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			buf := make([]byte, 256<<10)
			buf[0] = modeSink
			context.AfterFunc(ctx, func() { c.SetWriteDeadline(time.Now()) })
			for ctx.Err() == nil {
				n, err := c.Write(buf)
				total.Add(int64(n))
				if err != nil {
					if ctx.Err() == nil {
						errs <- err
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	fmt.Printf("bytes %d seconds %.3f\n", total.Load(), secs)
	return nil
}

func rate(addr string, workers int, d time.Duration) error {
	deadline := time.Now().Add(d)
	var done, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b [1]byte
			for time.Now().Before(deadline) {
				c, err := net.DialTimeout("tcp", addr, 2*time.Second)
				if err != nil {
					failed.Add(1)
					continue
				}
				c.SetDeadline(time.Now().Add(2 * time.Second))
				_, err = c.Write([]byte{modePing})
				if err == nil {
					_, err = io.ReadFull(c, b[:])
				}
				c.Close()
				if err != nil {
					failed.Add(1)
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("conns %d errors %d seconds %.3f\n", done.Load(), failed.Load(), time.Since(start).Seconds())
	return nil
}
