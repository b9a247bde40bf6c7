package demo

import (
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// Limits keep a mistyped query from tying a demo server up for hours or filling memory.
const (
	maxDelay    = 5 * time.Minute
	maxEvents   = 100_000
	maxChunk    = 1 << 20
	maxDownload = 1 << 34
)

// intParam reads q[key] as an integer in [lo, hi], or def when absent.
func intParam(q url.Values, key string, def, lo, hi int64) (int64, error) {
	s := q.Get(key)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("query %s=%q: want an integer between %d and %d", key, s, lo, hi)
	}
	return n, nil
}

// durationParam reads q[key] as a Go duration ("100ms") in [0, maxDelay], or def when absent.
func durationParam(q url.Values, key string, def time.Duration) (time.Duration, error) {
	s := q.Get(key)
	if s == "" {
		return def, nil
	}
	return parseDelay(key, s)
}

func parseDelay(what, s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > maxDelay {
		return 0, fmt.Errorf("%s %q: want a duration such as 200ms, between 0 and %s", what, s, maxDelay)
	}
	return d, nil
}

// parseStatus accepts the codes a handler can send as a final response.
func parseStatus(s string) (int, error) {
	code, err := strconv.Atoi(s)
	if err != nil || code < 200 || code > 599 {
		return 0, fmt.Errorf("status %q: want an HTTP status code between 200 and 599", s)
	}
	return code, nil
}
