package config

// Health check types for Health.Type.
const (
	HealthHTTP = "http"
	HealthTCP  = "tcp"
	HealthGRPC = "grpc" // grpc.health.v1
)

// Health configures active health checks of every target of an upstream. These structs carry
// no Line fields: a reload compares upstream configs to decide whether a pool is handed over,
// and moving a block in the file must not count as a change.
type Health struct {
	Type   string            `yaml:"type" default:"http"` // http, tcp or grpc
	Path   string            `yaml:"path" default:"/"`    // http
	Method string            `yaml:"method" default:"GET"`
	Host   string            `yaml:"host"`    // http Host header; empty: the target's host
	Port   int               `yaml:"port"`    // 0: the target's own port
	Header map[string]string `yaml:"headers"` // http request fields
	// ExpectStatus are the statuses that pass (http); validation fills 200-399 when unset.
	ExpectStatus StatusSet `yaml:"expect_status"`
	// Body the response must contain (http): a substring, or a regex written /.../.
	Body        string   `yaml:"body"`
	GRPCService string   `yaml:"grpc_service"` // service name asked of grpc.health.v1; "" is the server
	Interval    Duration `yaml:"interval" default:"2s"`
	Timeout     Duration `yaml:"timeout" default:"1s"`
	Rise        int      `yaml:"rise" default:"2"` // consecutive passes that bring a target up
	Fall        int      `yaml:"fall" default:"3"` // consecutive failures that take it down
}

// Outlier configures passive outlier detection: targets that fail live traffic are ejected
// for BaseEjection × the number of times they were ejected, up to MaxEjection.
type Outlier struct {
	Consecutive5xx             int      `yaml:"consecutive_5xx" default:"5"`              // 0: off
	ConsecutiveConnectFailures int      `yaml:"consecutive_connect_failures" default:"5"` // 0: off
	Interval                   Duration `yaml:"interval" default:"10s"`                   // success-rate and failure-percentage sweep
	BaseEjection               Duration `yaml:"base_ejection" default:"30s"`
	MaxEjection                Duration `yaml:"max_ejection" default:"5m"`
	MaxEjectedPercent          Ratio    `yaml:"max_ejected_percent" default:"50%"`
	// SuccessRateStdev is k: a target whose success rate is below the mean of the others by
	// more than k standard deviations is ejected. 0: off.
	SuccessRateStdev       Ratio `yaml:"success_rate_stdev" default:"1.9"`
	SuccessRateMinHosts    int   `yaml:"success_rate_min_hosts" default:"5"`
	SuccessRateMinRequests int   `yaml:"success_rate_min_requests" default:"100"`
	// FailurePercentage ejects a target whose share of failed requests in an interval reaches
	// it, whatever the others do. 0: off.
	FailurePercentage            Ratio `yaml:"failure_percentage"`
	FailurePercentageMinRequests int   `yaml:"failure_percentage_min_requests" default:"50"`
}

// CircuitBreaker configures the breakers of an upstream and of each of its targets, and the
// upstream's caps on concurrent requests.
type CircuitBreaker struct {
	// ErrorRatio opens a breaker when failed (or, with Latency, slow) requests reach this
	// share of the requests in Window, once MinRequests were seen.
	ErrorRatio  Ratio    `yaml:"error_ratio" default:"0.5"`
	Window      Duration `yaml:"window" default:"10s"`
	MinRequests int      `yaml:"min_requests" default:"20"`
	// Latency counts a request slower than this as failed; 0: latency is not judged.
	Latency          Duration `yaml:"latency"`
	OpenDuration     Duration `yaml:"open_duration" default:"5s"`
	HalfOpenRequests int      `yaml:"half_open_requests" default:"3"`
	MaxRequests      int      `yaml:"max_requests" default:"1000"` // concurrent requests to the upstream; 0: no cap
	MaxPending       int      `yaml:"max_pending"`                 // requests waiting for a response head; 0: no cap
}

// Retry conditions for Retries.On; a status code ("503") is a condition too.
const (
	RetryConnectError = "connect_error" // nothing was sent: safe for any method
	RetryReset        = "reset"         // the connection broke before the response head
	RetryTimeout      = "timeout"       // a per-try or response-header timeout
	Retry5xx          = "5xx"           // any 5xx status
)

// Retries configures how a failed exchange is tried again on another target.
type Retries struct {
	Attempts int `yaml:"attempts" default:"1"` // retries after the first try; 0: none
	// On lists the conditions that allow a retry; validation fills [connect_error] when unset.
	On              []string `yaml:"on"`
	RetriableStatus []int    `yaml:"retriable_status"` // more statuses that allow a retry
	// Budget caps concurrent retries at this share of the upstream's active requests (with a
	// floor of a few retries); nil: 50%.
	Budget        *Ratio   `yaml:"budget"`
	PerTryTimeout Duration `yaml:"per_try_timeout"` // each try until its response head; 0: none
	Backoff       Duration `yaml:"backoff" default:"25ms"`
	MaxBackoff    Duration `yaml:"max_backoff" default:"250ms"`
	// MaxBody is the largest request body kept for replay; a larger body is not retried once
	// sent.
	MaxBody Size `yaml:"max_body" default:"64KB"`
}

// Load shedding algorithms for LoadShedding.Algorithm.
const (
	ShedGradient = "gradient" // Netflix's Gradient2: the limit follows the ratio of long-term to recent latency
	ShedAIMD     = "aimd"     // additive increase, multiplicative decrease on failures and slow answers
)

// LoadShedding caps an upstream's concurrent requests at a limit that adapts to its latency
// (Netflix concurrency-limits): when answers slow down the limit falls, and requests beyond it
// get a quick 503 instead of queueing behind the slow ones.
type LoadShedding struct {
	Algorithm    string `yaml:"algorithm" default:"gradient"` // gradient or aimd
	InitialLimit int    `yaml:"initial_limit" default:"20"`
	MinLimit     int    `yaml:"min_limit" default:"5"`
	MaxLimit     int    `yaml:"max_limit" default:"1000"`
	// Window is the shortest time samples are averaged over before the limit moves (and at
	// least 10 samples).
	Window Duration `yaml:"window" default:"500ms"`
	// Smoothing is how far one window moves the gradient limit toward its new estimate.
	Smoothing Ratio `yaml:"smoothing" default:"0.2"`
	// Tolerance is how much slower than the long-term latency recent answers may be before the
	// gradient limit falls (1.5: 50% slower).
	Tolerance Ratio `yaml:"tolerance" default:"1.5"`
	// Backoff multiplies the aimd limit after a window with a failure or a slow answer.
	Backoff Ratio `yaml:"backoff" default:"0.9"`
	// Latency makes an answer slower than it count as a failure for aimd; 0: only failures.
	Latency Duration `yaml:"latency"`
}
