package config

import (
	"strings"
	"testing"
	"time"
)

func TestLLMPriorityGood(t *testing.T) {
	const y = `listeners:
  - {name: web, address: "127.0.0.1:8080"}
llm:
  queue_timeout: 500ms
  keys:
    - {key: a, name: a}
    - {key: b, name: b, priority: critical, allow_priority_header: true}
    - {key: c, name: c, priority: low, batch: true}
`
	cfg, err := parse("aya.yaml", []byte(y), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.LLM
	if l.QueueTimeout.D() != 500*time.Millisecond || l.BatchTimeout.D() != 10*time.Minute {
		t.Fatalf("timeouts: %v %v", l.QueueTimeout, l.BatchTimeout)
	}
	tests := []struct {
		priority      string
		header, batch bool
	}{{"medium", false, false}, {"critical", true, false}, {"low", false, true}}
	for i, tt := range tests {
		k := l.Keys[i]
		if k.Priority != tt.priority || k.AllowPriorityHeader != tt.header || k.Batch != tt.batch {
			t.Errorf("key %s: %+v, want %+v", k.Name, k, tt)
		}
	}
}

func TestLLMPriorityBad(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"llm:\n  keys:\n    - {key: k, priority: urgent}\n", `aya.yaml:3: llm key #1: unknown priority "urgent": use critical, high, medium, low`},
		{"llm:\n  keys:\n    - {key: k, priority: hihg}\n", `did you mean "high"`},
		{"llm:\n  queue_timeout: 0s\n", `llm: queue_timeout must be more than 0`},
		{"llm:\n  batch_timeout: 0s\n", `llm: batch_timeout must be more than 0`},
	}
	for _, tt := range tests {
		_, err := parse("aya.yaml", []byte(tt.yaml), noEnv)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q:\ngot  %v\nwant %s", tt.yaml, err, tt.want)
		}
	}
}
