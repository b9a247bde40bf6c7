package observe

import "aya/internal/httpx"

// ConsumerNoter is per-request memory that learns who the caller authenticated as, for the
// request's record. The gateway's is in every request's httpx.Request.Local.
type ConsumerNoter interface {
	NoteConsumer(name string)
}

// NoteConsumer records the authenticated consumer of r (an LLM virtual key, say; the auth
// policies set policy.State.Consumer instead). name must stay valid until the request ends: a
// name from the config or the key store is; one read from the request itself must be copied
// first (strings.Clone). A request that did not come through the gateway has no noter, and
// nothing happens.
func NoteConsumer(r *httpx.Request, name string) {
	if n, ok := r.Local.(ConsumerNoter); ok {
		n.NoteConsumer(name)
	}
}
