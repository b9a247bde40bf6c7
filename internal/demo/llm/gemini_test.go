package llmdemo

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/genai"
)

func geminiClient(t *testing.T, base, key string) *genai.Client {
	t.Helper()
	c, err := genai.NewClient(t.Context(), &genai.ClientConfig{
		APIKey: key, Backend: genai.BackendGeminiAPI,
		HTTPOptions: genai.HTTPOptions{BaseURL: base + "/", APIVersion: "v1beta"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var geminiWeather = &genai.Tool{FunctionDeclarations: []*genai.FunctionDeclaration{
	{Name: "get_time", Description: "Time in a city", Parameters: &genai.Schema{Type: genai.TypeObject,
		Properties: map[string]*genai.Schema{"city": {Type: genai.TypeString}}}},
	{Name: "get_weather", Description: "Weather in a city", Parameters: &genai.Schema{Type: genai.TypeObject,
		Properties: map[string]*genai.Schema{"city": {Type: genai.TypeString}, "days": {Type: genai.TypeInteger}}}},
}}

func TestGeminiGenerate(t *testing.T) {
	_, base := start(t, Gemini, Options{APIKeys: []string{"g-key"}, TokensPerSecond: -1})
	c := geminiClient(t, base, "g-key")
	sys := &genai.GenerateContentConfig{SystemInstruction: genai.NewContentFromText("You are terse.", genai.RoleUser)}
	got, err := c.Models.GenerateContent(t.Context(), "gemini-2.5-flash", genai.Text("Say hello to the gateway."), sys)
	if err != nil {
		t.Fatal(err)
	}
	text := got.Text()
	wantPrompt := CountTokens("You are terse.") + CountTokens("Say hello to the gateway.")
	u := got.UsageMetadata
	if text == "" || got.Candidates[0].FinishReason != genai.FinishReasonStop || u.PromptTokenCount != int32(wantPrompt) ||
		u.CandidatesTokenCount != int32(CountTokens(text)) || u.TotalTokenCount != u.PromptTokenCount+u.CandidatesTokenCount {
		t.Fatalf("text %q finish %q usage %+v", text, got.Candidates[0].FinishReason, u)
	}

	tests := []struct {
		name  string
		cfg   *genai.GenerateContentConfig
		check func(t *testing.T, r *genai.GenerateContentResponse)
	}{
		{"max tokens", &genai.GenerateContentConfig{MaxOutputTokens: 2}, func(t *testing.T, r *genai.GenerateContentResponse) {
			if r.Candidates[0].FinishReason != genai.FinishReasonMaxTokens || r.UsageMetadata.CandidatesTokenCount != 2 {
				t.Fatalf("finish %q usage %+v", r.Candidates[0].FinishReason, r.UsageMetadata)
			}
		}},
		{"json", &genai.GenerateContentConfig{ResponseMIMEType: "application/json"}, func(t *testing.T, r *genai.GenerateContentResponse) {
			if !strings.HasPrefix(r.Text(), "{") {
				t.Fatalf("text %q", r.Text())
			}
		}},
		{"forced function", &genai.GenerateContentConfig{Tools: []*genai.Tool{geminiWeather}, ToolConfig: &genai.ToolConfig{
			FunctionCallingConfig: &genai.FunctionCallingConfig{Mode: genai.FunctionCallingConfigModeAny, AllowedFunctionNames: []string{"get_weather"}}}},
			func(t *testing.T, r *genai.GenerateContentResponse) {
				calls := r.FunctionCalls()
				if len(calls) != 1 || calls[0].Name != "get_weather" || calls[0].Args["city"] == nil {
					t.Fatalf("calls %+v", calls)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := c.Models.GenerateContent(t.Context(), "gemini-2.5-flash", genai.Text("Say hello."), tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, r)
		})
	}
}

func TestGeminiStream(t *testing.T) {
	gap := 10 * time.Millisecond
	_, base := start(t, Gemini, Options{TokensPerSecond: float64(time.Second / gap)})
	c := geminiClient(t, base, "k")
	var text strings.Builder
	var arrivals []sseLine
	var last *genai.GenerateContentResponse
	for r, err := range c.Models.GenerateContentStream(t.Context(), "gemini-2.5-pro", genai.Text("Stream please."), nil) {
		if err != nil {
			t.Fatal(err)
		}
		text.WriteString(r.Text())
		arrivals = append(arrivals, sseLine{r.Text(), time.Now()})
		last = r
	}
	assertPaced(t, arrivals, gap)
	if last.Candidates[0].FinishReason != genai.FinishReasonStop || last.UsageMetadata.CandidatesTokenCount != int32(CountTokens(text.String())) {
		t.Fatalf("last chunk %+v usage %+v for %q", last.Candidates[0], last.UsageMetadata, text.String())
	}
}

func TestGeminiErrors(t *testing.T) {
	s, base := start(t, Gemini, Options{APIKeys: []string{"g-key"}, TokensPerSecond: -1})
	tests := []struct {
		name   string
		key    string
		model  string
		inject int
		code   int
		status string
	}{
		{"bad key", "nope", "gemini-2.5-flash", 0, 400, "INVALID_ARGUMENT"},
		{"unknown model", "g-key", "gemini-0", 0, 404, "NOT_FOUND"},
		{"quota", "g-key", "gemini-2.5-flash", 429, 429, "RESOURCE_EXHAUSTED"},
		{"overloaded", "g-key", "gemini-2.5-flash", 503, 503, "UNAVAILABLE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.inject != 0 {
				s.InjectStatus(tt.inject, 1)
			}
			_, err := geminiClient(t, base, tt.key).Models.GenerateContent(t.Context(), tt.model, genai.Text("hi"), nil)
			var apiErr genai.APIError
			if !errors.As(err, &apiErr) || apiErr.Code != tt.code || apiErr.Status != tt.status {
				t.Fatalf("error %v, want %d %s", err, tt.code, tt.status)
			}
		})
	}
	resp, lines := post(t, base+"/v1beta/models/gemini-2.5-flash:generateContent?key=g-key", nil, `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`)
	if resp.StatusCode != 200 || len(lines) == 0 {
		t.Fatalf("?key= auth: status %d", resp.StatusCode)
	}
}
