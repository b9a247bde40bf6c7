// Package route decides which route takes a request. A config's match blocks are compiled once
// into a Table (hosts into maps, paths into a segment trie per host), and Table.Match runs on
// every request without allocating.
//
// It knows only aya's request type (internal/httpx): nothing of targets, upstreams, policies or
// config files. It answers with the index of the winning Spec; what that index means is the
// caller's business. Precedence and the exact matching rules are documented in docs/routing.md.
package route
