// Package alert raises alerts from rules (error rate, p99, targets down, a refused reload, a
// spike of 429s) and from an anomaly detector that learns each route's usual request rate,
// latency and error rate, then sends them to the log, GET /alerts, the dashboard and webhooks.
// An alert is keyed by its rule and subject: it fires once, updates while its condition holds,
// and resolves when it stops.
//
// It reads traffic from the analytics store and target health and reload state through small
// interfaces; it must not know about routing, proxying or config files (the gateway hands it
// a Config).
package alert
