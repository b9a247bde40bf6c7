//go:build race

package sim

// raceEnabled: the race detector slows the simulator about fifty-fold, so the tests that run
// whole shipped scenarios skip under it (they run in every plain `go test`).
const raceEnabled = true
