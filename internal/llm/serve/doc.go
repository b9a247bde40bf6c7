// Package serve is the LLM gateway's request path: it authenticates a virtual key, decodes the
// client's API (OpenAI or Anthropic), picks deployments of the requested model by its strategy,
// calls them through provider adapters with fallbacks and cooldowns, translates the answer (or
// the stream, event by event) back into the client's API, and accounts the tokens.
//
// It must not know config files, listeners, or any provider's wire format: the gateway builds
// it from config and hands it providers behind the Provider interface.
package serve
