package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// LLMPrompt is a prompt template served as a REST endpoint: POST Path with a JSON object of
// the template's variables; aya fills the template, calls Model and answers with the result.
type LLMPrompt struct {
	Line int `yaml:"-"`

	Name  string `yaml:"name"`
	Path  string `yaml:"path"`  // like /api/summarize
	Model string `yaml:"model"` // a model name or alias under llm.models
	// System is the system prompt, a template like Template.
	System string `yaml:"system"`
	// Template is the user message; {{name}} is replaced by the input's field name (strings as
	// they are, other values as JSON).
	Template    string          `yaml:"template"`
	InputSchema *LLMInputSchema `yaml:"input_schema"`
	// Output: text answers {"text": "..."}; json asks the model for a JSON object (JSON mode)
	// and answers with it.
	Output      string `yaml:"output" default:"text"`
	MaxTokens   int    `yaml:"max_tokens"`  // 0: the provider's default
	Temperature *Ratio `yaml:"temperature"` // nil: the provider's default; 0 makes answers cacheable
}

// LLMInputSchema is the subset of JSON Schema a prompt's input is checked against: the
// object's required fields and each field's type.
type LLMInputSchema struct {
	Required []string `yaml:"required"`
	// Properties maps a field to its JSON type: string, integer, number, boolean, object or
	// array. Fields not listed are accepted as they are.
	Properties map[string]string `yaml:"properties"`
}

// LLM prompt output forms.
const (
	LLMOutputText = "text"
	LLMOutputJSON = "json"
)

var (
	llmSchemaTypes  = []string{"string", "integer", "number", "boolean", "object", "array"}
	llmPlaceholders = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_]+)\s*\}\}`)
)

// TemplateVars are the variable names a prompt template uses, in order of first use.
func TemplateVars(tmpl string) []string {
	var out []string
	for _, m := range llmPlaceholders.FindAllStringSubmatch(tmpl, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

func (v *validator) llmPrompts(l *LLM, public map[string]string, publicNames []string) {
	names := map[string]int{}
	paths := map[string]int{}
	for i := range l.Prompts {
		p := &l.Prompts[i]
		path := fmt.Sprintf("llm.prompts[%d]", i)
		if v.bad[path] {
			continue
		}
		v.name("llm prompt", p.Name, i, path, p.Line, names)
		ctx := objName("llm prompt", p.Name, i)
		switch {
		case !strings.HasPrefix(p.Path, "/"):
			v.errAt(path+".path", p.Line, "%s: path %q must start with /, like /api/summarize", ctx, p.Path)
		case p.Path == "/v1" || strings.HasPrefix(p.Path, "/v1/"):
			v.errAt(path+".path", p.Line, "%s: path %q is under /v1/, which the LLM API serves: use another prefix, like /api/", ctx, p.Path)
		default:
			if first, dup := paths[p.Path]; dup {
				v.errAt(path+".path", p.Line, "%s: path %q is already served by the prompt at line %d", ctx, p.Path, first)
			} else {
				paths[p.Path] = v.line(path+".path", p.Line)
			}
		}
		if _, ok := public[p.Model]; !ok {
			v.errAt(path+".model", p.Line, "%s: model %q is not a model name or alias under llm.models%s", ctx, p.Model, didYouMean(p.Model, publicNames))
		}
		if strings.TrimSpace(p.Template) == "" {
			v.errAt(path+".template", p.Line, "%s: template is required, like \"Summarize {{text}}\"", ctx)
		}
		if p.Output != LLMOutputText && p.Output != LLMOutputJSON {
			v.errAt(path+".output", p.Line, "%s: output %q: use text or json", ctx, p.Output)
		}
		if p.MaxTokens < 0 {
			v.errAt(path+".max_tokens", p.Line, "%s: max_tokens must not be negative", ctx)
		}
		s := p.InputSchema
		if s == nil {
			continue
		}
		for _, f := range s.Required {
			if _, ok := s.Properties[f]; !ok && len(s.Properties) > 0 {
				v.errAt(path+".input_schema.required", p.Line, "%s: required field %q is not under input_schema.properties", ctx, f)
			}
		}
		for _, f := range sortedKeys(s.Properties) {
			if t := s.Properties[f]; !slices.Contains(llmSchemaTypes, t) {
				v.errAt(path+".input_schema.properties."+f, p.Line, "%s: field %q has type %q: use %s%s", ctx, f, t, strings.Join(llmSchemaTypes, ", "), didYouMean(t, llmSchemaTypes))
			}
		}
		if len(s.Properties) > 0 {
			for _, name := range TemplateVars(p.System + "\n" + p.Template) {
				if _, ok := s.Properties[name]; !ok {
					v.errAt(path+".template", p.Line, "%s: the template uses {{%s}}, which input_schema.properties does not declare", ctx, name)
				}
			}
		}
	}
}
