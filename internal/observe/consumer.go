package observe

import "context"

// ConsumerNoter is how whatever identifies a caller (an auth policy, an LLM virtual key) tells
// the request's record who it was. The gateway puts one in every request's context.
type ConsumerNoter interface {
	NoteConsumer(name string)
}

type consumerKey struct{}

// ConsumerKey is the context key of a request's ConsumerNoter.
var ConsumerKey any = consumerKey{}

// NoteConsumer records the authenticated consumer of the request whose context ctx is (or
// derives from). name must stay valid until the request ends: a name from the config is; one
// read from the request itself must be copied first (strings.Clone). Without a noter in ctx
// (a request that did not come through the gateway) it does nothing.
func NoteConsumer(ctx context.Context, name string) {
	if n, ok := ctx.Value(ConsumerKey).(ConsumerNoter); ok {
		n.NoteConsumer(name)
	}
}
