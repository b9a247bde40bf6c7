// Package config reads aya's YAML configuration: it expands ${ENV} references, decodes the
// document into the types in types.go with every unknown key and wrong type reported, applies
// defaults, and validates the whole thing, reporting every problem as "file:line: reason". It
// also watches a config file for changes.
//
// It is data only: it imports nothing of aya and must not know how listeners, routes or
// upstreams are built or served. The gateway turns a Config into a running snapshot.
package config
