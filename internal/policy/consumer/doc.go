// Package consumer is aya's registry of callers: consumers with their credentials (API key
// hashes, bcrypt logins, JWT claim matches), the APIs routes are grouped into, and the
// subscriptions that let a consumer call an API.
//
// A Directory is one immutable table, built from the config file or from a Store (what the
// admin API added). A View layers the admin table over the file's: a consumer the admin API
// wrote wins, by name, over the file's of the same name. Lookups on a View allocate nothing.
//
// The package knows nothing of HTTP, of config files or of the gateway; it never sees an API
// key in clear after Hash.
package consumer
