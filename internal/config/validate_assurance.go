package config

import (
	"regexp"
	"strconv"
	"strings"
)

// assurance checks an upstream's health, outlier, circuit_breaker and retries blocks and fills
// the defaults that struct tags cannot hold (lists).
func (v *validator) assurance(u *Upstream, path, ctx string) {
	if u.PanicThreshold > 1 {
		v.errAt(path+".panic_threshold", u.Line, "%s: panic_threshold must be from 0%% to 100%%, got %s", ctx, u.PanicThreshold)
	}
	if h := u.Health; h != nil {
		v.health(h, path+".health", ctx+" health", u.Line)
	}
	if o := u.Outlier; o != nil {
		v.outlier(o, path+".outlier", ctx+" outlier", u.Line)
	}
	if b := u.CircuitBreaker; b != nil {
		v.breaker(b, path+".circuit_breaker", ctx+" circuit_breaker", u.Line)
	}
	v.retries(&u.Retries, path+".retries", ctx+" retries", u.Line)
	if ls := u.LoadShedding; ls != nil {
		v.shedding(ls, path+".load_shedding", ctx+" load_shedding", u.Line)
	}

	primaries := 0
	for i, t := range u.Targets {
		if t.Priority < 0 || t.Priority > 100 {
			v.errAt(path+".targets["+strconv.Itoa(i)+"].priority", t.Line, "%s target #%d: priority must be from 0 to 100, got %d", ctx, i+1, t.Priority)
		}
		if !t.Backup {
			primaries++
		}
	}
	if primaries == 0 && len(u.Targets) > 0 {
		v.errAt(path+".targets", u.Line, "%s: every target is a backup: a backup takes requests only when the other targets are down, so mark at least one target as not backup", ctx)
	}
	if st := u.Sticky; st != nil {
		sp := path + ".sticky"
		switch c := st.Cookie; {
		case c == nil:
			v.errAt(sp, u.Line, `%s sticky: cookie is required, like sticky: {cookie: {name: aya_s, ttl: 1h}}; for affinity by a header, cookie or IP use balance: maglev with hash_key`, ctx)
		default:
			if !isToken(c.Name) {
				v.errAt(sp+".cookie.name", u.Line, "%s sticky cookie: invalid name %q", ctx, c.Name)
			}
			if c.Path == "" || c.Path[0] != '/' || strings.ContainsAny(c.Path, ";, ") {
				v.errAt(sp+".cookie.path", u.Line, "%s sticky cookie: path %q must start with / and hold no ; , or space", ctx, c.Path)
			}
			switch c.SameSite {
			case "Lax", "Strict":
			case "None":
				if !c.Secure {
					v.errAt(sp+".cookie.same_site", u.Line, "%s sticky cookie: same_site None needs secure: true (browsers drop it otherwise)", ctx)
				}
			default:
				v.errAt(sp+".cookie.same_site", u.Line, "%s sticky cookie: same_site must be Lax, Strict or None, got %q", ctx, c.SameSite)
			}
		}
	}
	if d := u.Discovery; d != nil {
		dp := path + ".discovery"
		dl := v.line(dp, u.Line)
		if f := d.File; f != nil {
			if f.Path == "" {
				v.errAt(dp+".file.path", dl, "%s discovery file: path is required: name a YAML or JSON list of targets, or a directory of them", ctx)
			} else {
				f.Path = v.resolvePath(f.Path)
			}
			v.positive(dp+".file.refresh", dl, ctx+" discovery file", "refresh", f.Refresh)
		}
		switch n := d.DNS; {
		case n == nil && d.File == nil:
			v.errAt(dp, dl, "%s discovery: dns or file is required, like discovery: {dns: {name: app.internal, type: SRV}} or discovery: {file: {path: targets.yaml}}", ctx)
		case n == nil:
		case d.File != nil:
			v.errAt(dp, dl, "%s discovery: dns and file both set: an upstream discovers its targets from one source", ctx)
		default:
			if !validHost(n.Name) {
				v.errAt(dp+".dns.name", dl, "%s discovery dns: name %q is not a DNS name", ctx, n.Name)
			}
			switch n.Type {
			case DNSTypeSRV:
			case DNSTypeA, DNSTypeAAAA:
				if n.Port < 1 || n.Port > 65535 {
					v.errAt(dp+".dns.port", dl, "%s discovery dns: type %s needs the targets' port (1-65535)", ctx, n.Type)
				}
			default:
				v.errAt(dp+".dns.type", dl, "%s discovery dns: type must be A, AAAA or SRV, got %q", ctx, n.Type)
			}
			if n.Scheme != SchemeHTTP && n.Scheme != SchemeHTTPS && n.Scheme != SchemeH2C {
				v.errAt(dp+".dns.scheme", dl, "%s discovery dns: scheme must be http, https or h2c, got %q", ctx, n.Scheme)
			}
			v.positive(dp+".dns.refresh", dl, ctx+" discovery dns", "refresh", n.Refresh)
			if n.Server != "" {
				if _, _, msg := splitAddress(n.Server, false); msg != "" {
					v.errAt(dp+".dns.server", dl, "%s discovery dns: server: %s", ctx, msg)
				}
			}
		}
	}
	if l := u.Locality; l != nil {
		if l.Zone == "" {
			v.errAt(path+".locality.zone", v.line(path+".locality", u.Line), "%s locality: zone is required: name the zone this aya runs in", ctx)
		}
		v.share(path+".locality.min_healthy", u.Line, ctx+" locality", "min_healthy", l.MinHealthy)
	}
}

func (v *validator) health(h *Health, path, ctx string, line int) {
	line = v.line(path, line)
	switch h.Type {
	case HealthHTTP, HealthTCP, HealthGRPC:
	default:
		v.errAt(path+".type", line, "%s: invalid type %q: use http, tcp or grpc%s", ctx, h.Type,
			didYouMean(h.Type, []string{HealthHTTP, HealthTCP, HealthGRPC}))
	}
	if h.Path == "" || h.Path[0] != '/' {
		v.errAt(path+".path", line, "%s: path %q must start with /", ctx, h.Path)
	}
	if h.Method = strings.ToUpper(h.Method); !isToken(h.Method) {
		v.errAt(path+".method", line, "%s: invalid method %q", ctx, h.Method)
	}
	if h.Host != "" && !validHost(h.Host) {
		if hh, _, err := splitHostPortLoose(h.Host); err != nil || !validHost(hh) {
			v.errAt(path+".host", line, "%s: host %q is not a host name", ctx, h.Host)
		}
	}
	if h.Port < 0 || h.Port > 65535 {
		v.errAt(path+".port", line, "%s: port must be from 1 to 65535 (0: the target's port), got %d", ctx, h.Port)
	}
	for name := range h.Header {
		if !isToken(name) {
			v.errAt(path+".headers."+name, line, "%s: headers: %q is not a valid header name", ctx, name)
		}
	}
	if len(h.ExpectStatus) == 0 {
		h.ExpectStatus = StatusSet{{Lo: 200, Hi: 399}}
	}
	if re, ok := BodyRegex(h.Body); ok {
		if _, err := regexp.Compile(re); err != nil {
			v.errAt(path+".body", line, "%s: body regex %s: %v", ctx, h.Body, err)
		}
	}
	v.positive(path+".interval", line, ctx, "interval", h.Interval)
	v.positive(path+".timeout", line, ctx, "timeout", h.Timeout)
	if h.Timeout > h.Interval && h.Interval > 0 {
		v.errAt(path+".timeout", line, "%s: timeout %s is longer than interval %s: checks would overlap; shorten the timeout", ctx, h.Timeout, h.Interval)
	}
	v.atLeast(path+".rise", line, ctx, "rise", h.Rise, 1)
	v.atLeast(path+".fall", line, ctx, "fall", h.Fall, 1)
}

// BodyRegex returns the regex of a health body written /.../, or false for a substring.
func BodyRegex(body string) (string, bool) {
	if len(body) >= 2 && body[0] == '/' && body[len(body)-1] == '/' {
		return body[1 : len(body)-1], true
	}
	return "", false
}

func splitHostPortLoose(s string) (string, int, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return s, 0, nil
	}
	p, err := strconv.Atoi(s[i+1:])
	return strings.Trim(s[:i], "[]"), p, err
}

func (v *validator) outlier(o *Outlier, path, ctx string, line int) {
	line = v.line(path, line)
	v.atLeast(path+".consecutive_5xx", line, ctx, "consecutive_5xx", o.Consecutive5xx, 0)
	v.atLeast(path+".consecutive_connect_failures", line, ctx, "consecutive_connect_failures", o.ConsecutiveConnectFailures, 0)
	v.positive(path+".interval", line, ctx, "interval", o.Interval)
	v.positive(path+".base_ejection", line, ctx, "base_ejection", o.BaseEjection)
	if o.MaxEjection < o.BaseEjection {
		v.errAt(path+".max_ejection", line, "%s: max_ejection %s is shorter than base_ejection %s", ctx, o.MaxEjection, o.BaseEjection)
	}
	v.share(path+".max_ejected_percent", line, ctx, "max_ejected_percent", o.MaxEjectedPercent)
	v.share(path+".failure_percentage", line, ctx, "failure_percentage", o.FailurePercentage)
	v.atLeast(path+".success_rate_min_hosts", line, ctx, "success_rate_min_hosts", o.SuccessRateMinHosts, 2)
	v.atLeast(path+".success_rate_min_requests", line, ctx, "success_rate_min_requests", o.SuccessRateMinRequests, 1)
	v.atLeast(path+".failure_percentage_min_requests", line, ctx, "failure_percentage_min_requests", o.FailurePercentageMinRequests, 1)
}

func (v *validator) breaker(b *CircuitBreaker, path, ctx string, line int) {
	line = v.line(path, line)
	if b.ErrorRatio <= 0 || b.ErrorRatio > 1 {
		v.errAt(path+".error_ratio", line, "%s: error_ratio must be above 0 and at most 100%%, got %s", ctx, b.ErrorRatio)
	}
	v.positive(path+".window", line, ctx, "window", b.Window)
	v.positive(path+".open_duration", line, ctx, "open_duration", b.OpenDuration)
	v.atLeast(path+".min_requests", line, ctx, "min_requests", b.MinRequests, 1)
	v.atLeast(path+".half_open_requests", line, ctx, "half_open_requests", b.HalfOpenRequests, 1)
	v.atLeast(path+".max_requests", line, ctx, "max_requests", b.MaxRequests, 0)
	v.atLeast(path+".max_pending", line, ctx, "max_pending", b.MaxPending, 0)
}

func (v *validator) shedding(s *LoadShedding, path, ctx string, line int) {
	line = v.line(path, line)
	if s.Algorithm != ShedGradient && s.Algorithm != ShedAIMD {
		v.errAt(path+".algorithm", line, "%s: algorithm must be gradient or aimd, got %q%s", ctx, s.Algorithm,
			didYouMean(s.Algorithm, []string{ShedGradient, ShedAIMD}))
	}
	v.atLeast(path+".min_limit", line, ctx, "min_limit", s.MinLimit, 1)
	if s.MaxLimit < s.MinLimit {
		v.errAt(path+".max_limit", line, "%s: max_limit %d is below min_limit %d", ctx, s.MaxLimit, s.MinLimit)
	}
	if s.InitialLimit < s.MinLimit || s.InitialLimit > s.MaxLimit {
		v.errAt(path+".initial_limit", line, "%s: initial_limit %d must be from min_limit %d to max_limit %d", ctx, s.InitialLimit, s.MinLimit, s.MaxLimit)
	}
	v.positive(path+".window", line, ctx, "window", s.Window)
	if s.Smoothing <= 0 || s.Smoothing > 1 {
		v.errAt(path+".smoothing", line, "%s: smoothing must be above 0 and at most 1, got %s", ctx, s.Smoothing)
	}
	if s.Tolerance < 1 {
		v.errAt(path+".tolerance", line, "%s: tolerance must be at least 1 (1.5: answers may be 50%% slower than usual), got %s", ctx, s.Tolerance)
	}
	if s.Backoff <= 0 || s.Backoff >= 1 {
		v.errAt(path+".backoff", line, "%s: backoff must be between 0 and 1 (0.9 cuts the limit by 10%%), got %s", ctx, s.Backoff)
	}
	if s.Latency < 0 {
		v.errAt(path+".latency", line, "%s: latency must not be negative", ctx)
	}
}

func (v *validator) retries(r *Retries, path, ctx string, line int) {
	line = v.line(path, line)
	v.atLeast(path+".attempts", line, ctx, "attempts", r.Attempts, 0)
	if r.Attempts > 10 {
		v.errAt(path+".attempts", line, "%s: attempts %d is more than 10: retries multiply load on a struggling upstream", ctx, r.Attempts)
	}
	if _, written := v.lines[path+".on"]; !written {
		r.On = []string{RetryConnectError}
	}
	valid := []string{RetryConnectError, RetryReset, RetryTimeout, Retry5xx}
	for i, c := range r.On {
		if code, err := strconv.Atoi(c); err == nil {
			if code < 500 || code > 599 {
				v.errAt(path+".on["+strconv.Itoa(i)+"]", line, "%s: on: status %d cannot be retried: use a 5xx code (or list 4xx codes in retriable_status)", ctx, code)
			}
			continue
		}
		known := false
		for _, k := range valid {
			known = known || k == c
		}
		if !known {
			v.errAt(path+".on["+strconv.Itoa(i)+"]", line, "%s: on: unknown condition %q%s; use %s or a status like 503", ctx, c, didYouMean(c, valid), strings.Join(valid, ", "))
		}
	}
	for i, code := range r.RetriableStatus {
		if code < 400 || code > 599 {
			v.errAt(path+".retriable_status["+strconv.Itoa(i)+"]", line, "%s: retriable_status: %d is not an error status (400-599)", ctx, code)
		}
	}
	if r.Budget != nil {
		v.share(path+".budget", line, ctx, "budget", *r.Budget)
	}
	if r.MaxBackoff < r.Backoff {
		v.errAt(path+".max_backoff", line, "%s: max_backoff %s is shorter than backoff %s", ctx, r.MaxBackoff, r.Backoff)
	}
}

func (v *validator) positive(path string, line int, ctx, key string, d Duration) {
	if d <= 0 {
		v.errAt(path, line, "%s: %s must be more than 0", ctx, key)
	}
}

func (v *validator) atLeast(path string, line int, ctx, key string, n, lo int) {
	if n < lo {
		v.errAt(path, line, "%s: %s must be at least %d, got %d", ctx, key, lo, n)
	}
}

func (v *validator) share(path string, line int, ctx, key string, r Ratio) {
	if r > 1 {
		v.errAt(path, line, "%s: %s must be from 0%% to 100%%, got %s", ctx, key, r)
	}
}
