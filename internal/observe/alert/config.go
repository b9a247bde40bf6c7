package alert

import "time"

// Rule types.
const (
	TypeErrorRate      = "error_rate"
	TypeP99            = "p99"
	TypeTargetDown     = "target_down"
	TypeAllTargetsDown = "all_targets_down"
	TypeReloadFailed   = "reload_failed"
	TypeRateLimitSpike = "rate_limit_spike"
	TypeAnomaly        = "anomaly" // raised by the detector, not configured
)

// Config is what the engine evaluates and where it sends alerts.
type Config struct {
	Rules    []Rule
	Webhooks []Webhook
	Anomaly  Anomaly
}

// Rule is one configured condition.
type Rule struct {
	Name     string
	Type     string
	Route    string  // error_rate, p99, rate_limit_spike; "" = all traffic
	Upstream string  // target_down, all_targets_down; "" = every upstream
	Limit    float64 // a share, seconds or requests per second, by type
	Window   time.Duration
	For      time.Duration
	Factor   float64 // rate_limit_spike: times the hour-before rate
	Severity string
}

// Webhook receives each alert that fires or resolves as a JSON POST.
type Webhook struct {
	URL     string
	Timeout time.Duration
	Retries int
	Headers map[string]string
}

// Anomaly tunes the detector.
type Anomaly struct {
	Enabled     bool
	Interval    time.Duration
	Sensitivity float64 // standard deviations
	MinRPS      float64
}
