// Package auth is the auth route policy: it finds a credential in the request (an API key in a
// header or the query, HTTP Basic, a bearer JWT, an opaque bearer token checked by OAuth2
// introspection), identifies the consumer it belongs to, checks the route's API subscription,
// and records who the caller is in policy.State for the policies, logs and metrics after it.
//
// It answers 401 with a WWW-Authenticate challenge when no credential or a wrong one is found,
// 403 when the caller is known but not subscribed, and 503 when the introspection endpoint
// cannot be reached. Credentials are never logged nor echoed.
//
// It knows consumers only through the Consumers interface (internal/policy/consumer implements
// it) and nothing of config files or the gateway.
package auth
