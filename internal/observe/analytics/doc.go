// Package analytics keeps what the admin API and dashboard show about recent traffic: the last
// few thousand requests (a ring buffer) and per-second and per-minute rollups per route,
// upstream, target and consumer (requests, latency percentiles, 4xx/5xx, 429s, bytes) for the
// last hour. Memory is fixed by its options whatever the traffic: each dimension keeps its
// top-N names by recent rate and folds the rest into "other".
//
// It is an observe.Sink: Record runs on the request path, so it copies what it keeps into
// fixed-size slots under a per-shard mutex and never allocates once a name has been seen. It
// must not know about routing, proxying or config files.
package analytics
