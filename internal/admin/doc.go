// Package admin serves aya's dashboard: the embedded web UI at /ui/ (plain HTML, CSS and JS,
// no build step, no CDN) and the browser sign-in for it, which turns the admin token into an
// HttpOnly session cookie with a CSRF token for changes.
//
// The dashboard reads the admin API's JSON (GET /analytics, /alerts, /upstreams, /routes, /tps)
// like any client; this package must not know how those are computed, and knows nothing of
// config files or the request path.
package admin
