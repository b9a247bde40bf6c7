//go:build race

package forecast_test

// raceEnabled shrinks the forecast table under the race detector, which slows the LSTM's
// training about tenfold and has nothing to check in this single-goroutine code.
const raceEnabled = true
