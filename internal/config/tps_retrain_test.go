package config

import (
	"strings"
	"testing"
)

func TestRetrainNeedsLearned(t *testing.T) {
	_, err := Parse("aya.yaml", []byte(`listeners: [{name: web, address: "127.0.0.1:8080"}]
tps:
  pools:
    - name: p
      capacity: 10
      retrain: true
      services: [{name: s, priority: low}]
`))
	if err == nil || !strings.Contains(err.Error(), "aya.yaml:6: tps pool \"p\": retrain is for allocator: learned") {
		t.Fatalf("retrain with waterfill: %v", err)
	}
}
