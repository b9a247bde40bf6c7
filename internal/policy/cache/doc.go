// Package cache is aya's HTTP response cache: a route middleware that answers repeated
// requests from memory, and the byte-bounded Store every route's cache shares.
//
// It follows RFC 9111 for a shared cache (Cache-Control on requests and responses, Expires,
// Age, Vary, validation with ETag/Last-Modified) and RFC 5861 (stale-while-revalidate,
// stale-if-error), coalesces concurrent misses for one key into one upstream request, and
// streams responses it does not keep. Purges go by key, path prefix or tag.
//
// It must not know about config, routes' upstreams or the gateway: the next handler is
// whatever the route's chain does after the cache, and Options is plain data the gateway
// fills in.
package cache
