//go:build !unix

package ratelimit

// processCPU is unknown here; benchmarks then report 0 CPU ns/op.
func processCPU() int64 { return 0 }
