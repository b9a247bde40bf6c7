package config

import (
	"slices"
	"strings"
	"testing"
)

const promptsBase = `listeners: [{name: web, address: "127.0.0.1:8080"}]
llm:
  providers: [{name: oa, type: openai}]
  models: [{name: smart, deployments: [{provider: oa, model: gpt-4o}]}]
  prompts:
`

func TestLLMPromptsGood(t *testing.T) {
	cfg, err := parse("aya.yaml", []byte(promptsBase+`    - name: summarize
      path: /api/summarize
      model: smart
      template: "Summarize {{text}} in {{ n }} words"
      input_schema: {required: [text], properties: {text: string, n: integer}}
      output: json
      temperature: 0
    - {name: echo, path: /api/echo, model: smart, template: "{{x}}"}
`), envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.LLM.Prompts
	if len(p) != 2 || p[0].Output != "json" || p[0].Temperature == nil || *p[0].Temperature != 0 || p[1].Output != "text" || p[1].Temperature != nil {
		t.Fatalf("%+v", p)
	}
	if got := TemplateVars(p[0].Template); !slices.Equal(got, []string{"text", "n"}) {
		t.Fatalf("vars %v", got)
	}
}

func TestLLMPromptsBad(t *testing.T) {
	tests := []struct{ prompts, want string }{
		{`    - {name: a, path: api/a, model: smart, template: x}`, `aya.yaml:6: llm prompt "a": path "api/a" must start with /`},
		{`    - {name: a, path: /v1/a, model: smart, template: x}`, `is under /v1/`},
		{"    - {name: a, path: /a, model: smart, template: x}\n    - {name: b, path: /a, model: smart, template: x}", `aya.yaml:7: llm prompt "b": path "/a" is already served by the prompt at line 6`},
		{`    - {name: a, path: /a, model: smrt, template: x}`, `model "smrt" is not a model name or alias under llm.models (did you mean "smart"?)`},
		{`    - {name: a, path: /a, model: smart, template: ""}`, `template is required`},
		{`    - {name: a, path: /a, model: smart, template: x, output: yaml}`, `output "yaml": use text or json`},
		{`    - {name: a, path: /a, model: smart, template: "{{x}}", input_schema: {properties: {x: strng}}}`, `field "x" has type "strng"`},
		{`    - {name: a, path: /a, model: smart, template: "{{x}} {{y}}", input_schema: {properties: {x: string}}}`, `the template uses {{y}}, which input_schema.properties does not declare`},
		{`    - {name: a, path: /a, model: smart, template: "{{x}}", input_schema: {required: [z], properties: {x: string}}}`, `required field "z" is not under input_schema.properties`},
	}
	for _, tt := range tests {
		_, err := parse("aya.yaml", []byte(promptsBase+tt.prompts+"\n"), envMap(nil))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s:\ngot  %v\nwant %s", tt.prompts, err, tt.want)
		}
	}
}
