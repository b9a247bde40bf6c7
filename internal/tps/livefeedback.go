package tps

import "time"

// LiveRecord429 is Record429 at the live clock: the gateway calls it when the upstream
// answered 429 despite the pool's cap.
func (p *Pool) LiveRecord429(retryAfter time.Duration) { p.Record429(p.clock(), retryAfter) }

// LiveRecordHeadroom is RecordHeadroom at the live clock: the gateway calls it with the
// upstream's own rate-limit headers.
func (p *Pool) LiveRecordHeadroom(remaining float64, reset time.Duration) {
	p.RecordHeadroom(p.clock(), remaining, reset)
}
