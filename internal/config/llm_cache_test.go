package config

import (
	"testing"
	"time"
)

// TestLLMCache: cache defaults, and keys opting out.
func TestLLMCache(t *testing.T) {
	const cfg = `listeners: [{name: web, address: "127.0.0.1:8080"}]
llm:
  cache: {}
  keys:
    - {key: a}
    - {key: b, cache: false}
`
	c, err := parse("aya.yaml", []byte(cfg), envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cc := c.LLM.Cache; cc == nil || cc.TTL.D() != 10*time.Minute || cc.MaxEntries != 10000 {
		t.Fatalf("cache defaults: %+v", cc)
	}
	if k := c.LLM.Keys; k[0].Cache != nil || k[1].Cache == nil || *k[1].Cache {
		t.Fatalf("keys: %+v %+v", k[0].Cache, k[1].Cache)
	}
}
