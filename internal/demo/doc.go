// Package demo runs small backend servers for `aya demo` and for end-to-end tests: an HTTP echo
// server with streaming, WebSocket, upload/download and fault-injection endpoints, an h2c and an
// HTTPS variant of it, a gRPC server, and a self-signed certificate helper.
//
// It is deliberately built on plain net/http and grpc-go rather than aya's own engine: a backend
// that shares code with the gateway could hide the gateway's bugs. It must not know about the
// gateway, config, routes or upstreams.
package demo
