package config

import "net/netip"

// Config is one validated aya configuration. Load and Parse return it with every default
// applied, so a zero value in a field below means the user asked for zero (usually "no limit"),
// never "unset". Line fields hold the 1-based line of the object in File, for runtime errors
// that must point at the config ("file:line: reason").
type Config struct {
	// File is the path the config was read from (as given to Load or Parse).
	File string `yaml:"-"`

	Listeners []Listener `yaml:"listeners"`
	Upstreams []Upstream `yaml:"upstreams"`
	Routes    []Route    `yaml:"routes"`
	TPS       TPS        `yaml:"tps"`
	Alerts    Alerts     `yaml:"alerts"`
	Admin     Admin      `yaml:"admin"`
	Shutdown  Shutdown   `yaml:"shutdown"`
	Log       Log        `yaml:"log"`
	AccessLog AccessLog  `yaml:"access_log"`
	Tracing   *Tracing   `yaml:"tracing"` // nil: no tracing
	LLM       *LLM       `yaml:"llm"`     // nil: no LLM gateway

	// Consumers are the callers auth policies identify; APIs group routes that consumers
	// subscribe to; Subscriptions seed who may call which API (more come by the admin API).
	Consumers     []Consumer     `yaml:"consumers"`
	APIs          []API          `yaml:"apis"`
	Subscriptions []Subscription `yaml:"subscriptions"`
	// Cache sizes the response cache that cache policies share; nil: defaults.
	Cache *CacheStore `yaml:"cache"`
	// GeoIP is the country database for match.country; nil: country matches are refused.
	GeoIP *GeoIP `yaml:"geoip"`
	// DataDir holds what must survive a restart (keys and consumers created through the admin
	// API, spent budgets) in one file; resolved against the config file's directory. Empty:
	// that state lives in memory only.
	DataDir string `yaml:"data_dir"`
	// Cluster shares rate limits and membership with other aya nodes through Redis; nil:
	// standalone.
	Cluster *Cluster `yaml:"cluster"`

	// lines holds the line of every value written in File (see ValueLine).
	lines map[string]int
}

// Listener is one address aya accepts HTTP on: plain HTTP/1.1, TLS (HTTP/1.1 and h2 by ALPN)
// or cleartext HTTP/2 (h2c); or, with protocol tcp or udp, one it proxies bytes or datagrams
// from to an upstream (L4). Timeouts.Idle and Limits.MaxConns/MaxConnsPerIP apply to tcp and
// udp listeners too; Timeouts.ReadHeader bounds the wait for a PROXY header and a ClientHello.
type Listener struct {
	Line int `yaml:"-"`

	Name    string       `yaml:"name"`
	Address string       `yaml:"address"` // host:port; host may be empty (all interfaces)
	TLS     *ListenerTLS `yaml:"tls"`     // nil: plain TCP
	H2C     bool         `yaml:"h2c"`     // accept the HTTP/2 preface on a plain listener
	// HTTP3 also serves QUIC (HTTP/3) on the same port number over UDP; TLS listeners only.
	HTTP3 bool `yaml:"http3"`
	// Protocol is http (the default), tcp or udp. A tcp or udp listener proxies bytes to the
	// targets of Upstream (tcp:// or udp:// URLs) instead of serving routes.
	Protocol string `yaml:"protocol" default:"http"`
	Upstream string `yaml:"upstream"` // tcp and udp listeners only
	// SNI routes a tcp listener's TLS connections by the server name in their ClientHello,
	// without terminating TLS (passthrough): "host" or "*.example.com" → upstream name, and
	// "*" for every other name and for clients that send none. Upstream, when set, is "*"'s
	// default.
	SNI map[string]string `yaml:"sni"`
	// ProxyProtocol reads a PROXY header from clients and/or sends one to targets (tcp only).
	ProxyProtocol *ProxyProtocol `yaml:"proxy_protocol"`

	Timeouts ListenerTimeouts `yaml:"timeouts"`
	Limits   ListenerLimits   `yaml:"limits"`
	H2       ListenerH2       `yaml:"h2"`

	// TrustedProxies are the peers whose X-Forwarded-For / Forwarded headers aya believes for
	// the client IP. A bare address in the YAML becomes a /32 or /128 prefix.
	TrustedProxies []netip.Prefix `yaml:"trusted_proxies"`

	// Policies are defaults for every route served here: they run before the route's own,
	// except those of a kind the route lists itself (the route's wins).
	Policies []Policy `yaml:"policies"`
}

// PROXY protocol versions for ProxyProtocol.Send.
const (
	ProxyProtocolV1 = "v1" // the text header
	ProxyProtocolV2 = "v2" // the binary header
)

// ProxyProtocol carries the client's address across a TCP proxy (HAProxy's PROXY protocol).
type ProxyProtocol struct {
	Line int `yaml:"-"`

	// Accept requires every client connection to start with a PROXY v1 or v2 header (sent by
	// a load balancer in front of aya); the address in it becomes the client's.
	Accept bool `yaml:"accept"`
	// Send writes a PROXY header with the client's address to each target: v1 or v2; "": none.
	Send string `yaml:"send"`
}

// ListenerTimeouts bound how long a client may take. Validation guarantees each is above 0.
type ListenerTimeouts struct {
	ReadHeader Duration `yaml:"read_header" default:"10s"` // from first byte to end of the head
	Idle       Duration `yaml:"idle" default:"60s"`        // keep-alive wait between requests
	BodyRead   Duration `yaml:"body_read" default:"60s"`   // wait for more request body bytes
	Write      Duration `yaml:"write" default:"60s"`       // one stalled write to the client
}

// ListenerLimits protect the listener from too many or too large requests. Zero means unlimited
// for the connection counts; the size limits always apply.
type ListenerLimits struct {
	MaxConns       int  `yaml:"max_conns"`                       // open connections, 0 = unlimited
	MaxConnsPerIP  int  `yaml:"max_conns_per_ip"`                // per client IP, 0 = unlimited
	MaxRequestLine Size `yaml:"max_request_line" default:"8KB"`  // 414 above it
	MaxHeaderBytes Size `yaml:"max_header_bytes" default:"64KB"` // whole head, 431 above it
	MaxHeaderCount int  `yaml:"max_header_count" default:"100"`  // header fields, 431 above it
}

// ListenerH2 tunes HTTP/2 on TLS (ALPN h2) and h2c listeners.
type ListenerH2 struct {
	MaxConcurrentStreams uint32 `yaml:"max_concurrent_streams" default:"250"`
}

// Client authentication modes for ListenerTLS.ClientAuth.
const (
	ClientAuthNone    = "none"
	ClientAuthRequest = "request" // ask for a certificate, verify it if sent
	ClientAuthRequire = "require" // a verified certificate is mandatory
)

// ListenerTLS terminates TLS on a listener. Certificate files have been loaded once with
// tls.LoadX509KeyPair during validation; paths are already resolved against the config
// file's directory.
type ListenerTLS struct {
	Line int `yaml:"-"`

	Certificates []Certificate `yaml:"certificates"`
	MinVersion   string        `yaml:"min_version" default:"1.2"` // "1.2" or "1.3"; see MinTLSVersion
	ClientCA     string        `yaml:"client_ca"`                 // PEM bundle to verify clients
	// ClientAuth is none, request or require; it defaults to require when ClientCA is set,
	// else none.
	ClientAuth string `yaml:"client_auth"`
}

// Certificate is one certificate chain and its private key, both PEM files.
type Certificate struct {
	Line int `yaml:"-"`

	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Balancing algorithms for Upstream.Balance.
const (
	BalanceRoundRobin         = "round_robin"
	BalanceWeightedRoundRobin = "weighted_round_robin"
	BalanceLeastConn          = "least_conn"
	BalanceWeightedLeastConn  = "weighted_least_conn"
	BalanceRandom             = "random"
	BalanceP2C                = "p2c"
	BalanceLeastTime          = "least_time"
	BalanceIPHash             = "ip_hash"
	BalanceConsistentHash     = "consistent_hash"
	BalanceMaglev             = "maglev"
)

// Upstream is a named pool of targets and how to reach and choose them.
type Upstream struct {
	Line int `yaml:"-"`

	Name    string   `yaml:"name"`
	Balance string   `yaml:"balance" default:"round_robin"` // one of the Balance* constants
	HashKey HashKey  `yaml:"hash_key" default:"ip"`         // for ip_hash, consistent_hash, maglev
	Targets []Target `yaml:"targets"`

	Timeouts UpstreamTimeouts `yaml:"timeouts"`
	Pool     Pool             `yaml:"pool"`
	TLS      *UpstreamTLS     `yaml:"tls"` // nil: system roots, SNI from the target host
	// PreserveHost sends the client's Host upstream; false sets Host to the target's host.
	PreserveHost bool `yaml:"preserve_host"`

	// PanicThreshold: when the share of usable targets falls below it, the pool balances over
	// every target, usable or not (Envoy's panic mode), rather than piling all load on a few.
	PanicThreshold Ratio           `yaml:"panic_threshold" default:"50%"`
	Health         *Health         `yaml:"health"`          // nil: no active health checks
	Outlier        *Outlier        `yaml:"outlier"`         // nil: no passive outlier detection
	CircuitBreaker *CircuitBreaker `yaml:"circuit_breaker"` // nil: no breaker, no request cap
	Retries        Retries         `yaml:"retries"`
	// Locality names the zone this aya runs in, so that targets in that zone are preferred.
	Locality *Locality `yaml:"locality"`
	Sticky   *Sticky   `yaml:"sticky"` // nil: no session affinity
	// SlowStart ramps a target that becomes usable (added, recovered, back from ejection)
	// from 10% to its full share of requests over this window; 0: off.
	SlowStart Duration `yaml:"slow_start"`
	// Discovery adds the targets a DNS name resolves to, refreshed while aya runs.
	Discovery *Discovery `yaml:"discovery"`
	// LoadShedding caps concurrent requests at a limit that falls as latency rises; nil: off.
	LoadShedding *LoadShedding `yaml:"load_shedding"`
}

// Discovery finds targets at run time, from one source: DNS or a file.
type Discovery struct {
	DNS  *DNSDiscovery  `yaml:"dns"`
	File *FileDiscovery `yaml:"file"`
}

// FileDiscovery reads targets from a YAML or JSON list in a file (or every .yaml, .yml and
// .json file of a directory), applied again whenever it changes.
type FileDiscovery struct {
	Path    string   `yaml:"path"`                 // resolved against the config file's directory
	Refresh Duration `yaml:"refresh" default:"5s"` // the longest wait between reads (changes to a file are seen at once)
}

// DNS record types for DNSDiscovery.Type.
const (
	DNSTypeA    = "A"    // with AAAA: addresses, the port from Port
	DNSTypeAAAA = "AAAA" // IPv6 addresses
	DNSTypeSRV  = "SRV"  // host, port, weight and priority per record
)

// DNSDiscovery resolves Name every Refresh (sooner when the records' TTL is shorter).
type DNSDiscovery struct {
	Name    string   `yaml:"name"`
	Type    string   `yaml:"type" default:"SRV"`
	Port    int      `yaml:"port"`                  // A and AAAA: the targets' port
	Scheme  string   `yaml:"scheme" default:"http"` // http, https or h2c
	Refresh Duration `yaml:"refresh" default:"10s"` // at most this long between lookups
	Server  string   `yaml:"server"`                // host:port; empty: the system's resolver (/etc/resolv.conf)
}

// Sticky keeps a client on one target. Affinity by a header, an existing cookie or the
// client IP is balance: maglev with hash_key; this is the cookie aya issues itself.
type Sticky struct {
	Cookie *StickyCookie `yaml:"cookie"`
}

// StickyCookie is the cookie aya sets to name a client's target.
type StickyCookie struct {
	Name     string   `yaml:"name" default:"aya_s"`
	TTL      Duration `yaml:"ttl"` // 0: a session cookie
	Path     string   `yaml:"path" default:"/"`
	Secure   bool     `yaml:"secure"`
	HTTPOnly bool     `yaml:"http_only" default:"true"`
	SameSite string   `yaml:"same_site" default:"Lax"` // Lax, Strict or None
}

// Locality prefers targets in aya's own zone while enough of them are usable.
type Locality struct {
	Zone string `yaml:"zone"` // aya's zone, matched against targets' zone
	// MinHealthy is the share of the zone's targets that must be usable for requests to stay
	// in the zone; below it they spread over every zone of the priority level.
	MinHealthy Ratio `yaml:"min_healthy" default:"70%"`
}

// Target schemes and protocols.
const (
	SchemeHTTP  = "http"
	SchemeHTTPS = "https"
	SchemeH2C   = "h2c" // cleartext HTTP/2 (gRPC without TLS)
	SchemeTCP   = "tcp" // bytes to a tcp listener's targets
	SchemeUDP   = "udp" // datagrams to a udp listener's targets

	ProtocolH1 = "h1"
	ProtocolH2 = "h2" // only with https: HTTP/2 over TLS (gRPC over TLS)
)

// Target is one upstream server.
type Target struct {
	Line int `yaml:"-"`

	// URL is http://, https:// or h2c://host[:port], or tcp:// or udp://host:port for the
	// upstreams of tcp and udp listeners. A target may be written as its URL alone:
	// "- http://10.0.0.1:9000".
	URL      string `yaml:"url" shorthand:"true"`
	Weight   int    `yaml:"weight" default:"1"`    // >= 1
	Protocol string `yaml:"protocol" default:"h1"` // h1 or h2 (https only); h2c targets are always h2
	// Priority groups targets: lower priorities take the load, spilling to the next as they
	// lose usable targets. Backup targets take requests only when no other target is usable.
	Priority int    `yaml:"priority"`
	Backup   bool   `yaml:"backup"`
	Zone     string `yaml:"zone"` // the target's zone, for upstreams[].locality

	// Filled by validation from URL, so the gateway never parses it again.
	Scheme string `yaml:"-"` // http, https, h2c, tcp or udp
	Host   string `yaml:"-"` // host:port, the port made explicit (80 for http/h2c, 443 for https)
}

// UpstreamTimeouts bound each phase of an upstream exchange. Validation guarantees each is
// above 0.
type UpstreamTimeouts struct {
	Connect        Duration `yaml:"connect" default:"5s"`
	TLSHandshake   Duration `yaml:"tls_handshake" default:"10s"`
	ResponseHeader Duration `yaml:"response_header" default:"60s"` // request sent → response head
	Idle           Duration `yaml:"idle" default:"90s"`            // pooled connection kept unused
	Read           Duration `yaml:"read" default:"60s"`            // between reads of the body
	Write          Duration `yaml:"write" default:"60s"`           // between writes of the request
}

// Pool sizes the per-target connection pool.
type Pool struct {
	MaxIdle int `yaml:"max_idle" default:"64"` // idle connections kept per target; 0 = none kept
}

// UpstreamTLS configures how aya verifies and authenticates to https/h2 targets.
type UpstreamTLS struct {
	Line int `yaml:"-"`

	CA                 string `yaml:"ca"`          // PEM bundle; empty: system roots
	ServerName         string `yaml:"server_name"` // SNI and verified name; empty: the target host
	Cert               string `yaml:"cert"`        // client certificate (mTLS), with Key
	Key                string `yaml:"key"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Route sends matching requests to an upstream, editing headers on the way.
type Route struct {
	Line int `yaml:"-"`

	Name string `yaml:"name"`
	// Listeners the route serves on; validation fills in every listener when the YAML omits it.
	Listeners []string `yaml:"listeners"`
	Match     Match    `yaml:"match"`

	RequestHeaders  HeaderOps `yaml:"request_headers"`
	ResponseHeaders HeaderOps `yaml:"response_headers"`

	Upstream string `yaml:"upstream"`
	// StripPrefix is removed from the start of the path before proxying ("/api/x" → "/x").
	StripPrefix string   `yaml:"strip_prefix"`
	Timeout     Duration `yaml:"timeout"`  // whole exchange, 0 = none beyond the upstream's timeouts
	MaxBody     Size     `yaml:"max_body"` // request body bytes, 0 = unlimited; 413 above it
	// PreserveHost overrides the upstream's preserve_host when set.
	PreserveHost *bool `yaml:"preserve_host"`
	// TPS admits the route's requests through a shared-capacity pool before they go upstream.
	TPS *RouteTPS `yaml:"tps"`
	// RetryNonIdempotent lets the upstream's retries repeat requests whose method is not
	// idempotent (POST, PATCH) after they may have reached a target.
	RetryNonIdempotent bool `yaml:"retry_non_idempotent"`
	// AccessLog turns the access log off for this route (health checks, noisy polling).
	AccessLog *bool `yaml:"access_log"`
	// Fallback answers when the upstream has no usable target; nil: aya's 502/503.
	Fallback *Fallback `yaml:"fallback"`
	// Fault injects delays and aborts into the route's requests; nil: none.
	Fault *Fault `yaml:"fault"`
	// Policies run in the order listed, before the request goes upstream (see policy.go).
	Policies []Policy `yaml:"policies"`
}

// Fallback is a route's graceful degradation: another upstream, or a static answer.
type Fallback struct {
	Upstream    string `yaml:"upstream"` // send the request there instead
	Status      int    `yaml:"status" default:"503"`
	Body        string `yaml:"body"`
	ContentType string `yaml:"content_type" default:"text/plain; charset=utf-8"`
}

// Match selects requests. Every non-empty field must match. Path holds exact ("/a"),
// prefix ("/a/*", also matching "/a") or parameter ("/users/{id}") patterns; a regex
// (written as path_regex or as path "~regex") is moved to PathRegex by validation, so at most
// one of Path and PathRegex is set.
type Match struct {
	Line int `yaml:"-"`

	Host      string            `yaml:"host"` // exact or "*.example.com"; case-insensitive, port ignored
	Path      string            `yaml:"path"`
	PathRegex string            `yaml:"path_regex"`
	Methods   []string          `yaml:"methods"` // upper-cased by validation
	Headers   map[string]string `yaml:"headers"` // exact value; "*" = present with any value
	Query     map[string]string `yaml:"query"`   // exact raw value; "*" = present with any value
	// ClientIP matches when the client IP is in one of these prefixes (a bare address is a
	// /32 or /128).
	ClientIP []netip.Prefix `yaml:"client_ip"`
	// Country matches ISO 3166-1 alpha-2 codes of the client IP, looked up in geoip.database.
	Country []string `yaml:"country"`
}

// HeaderOps edits a header: Remove first, then Set (replace), then Add (append).
type HeaderOps struct {
	Set    map[string]string `yaml:"set"`
	Add    map[string]string `yaml:"add"`
	Remove []string          `yaml:"remove"`
}

// Admin is the admin API listener.
type Admin struct {
	Line int `yaml:"-"`

	Address string `yaml:"address" default:"127.0.0.1:9901"`
	// Token is the bearer token the admin API requires; mandatory when Address is not loopback.
	Token string `yaml:"token" secret:"true"`
}

// Shutdown controls the graceful stop on SIGTERM.
type Shutdown struct {
	DrainTimeout Duration `yaml:"drain_timeout" default:"30s"`
}
