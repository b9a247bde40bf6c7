package llm

import "encoding/json"

// Roles of a Message. System prompts are not messages: they live in Request.System, because
// Anthropic and Gemini carry them beside the conversation, not in it.
const (
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleTool      = "tool" // a tool's result, answering ToolCallID
)

// Part types.
const (
	PartText  = "text"
	PartImage = "image"
)

// Request is one chat call, whatever API it arrived in.
type Request struct {
	Model    string
	System   string // every system/developer instruction, joined by blank lines
	Messages []Message
	Tools    []Tool
	// ToolChoice is nil when the client left it to the provider's default (auto).
	ToolChoice *ToolChoice
	Stop       []string
	// Temperature, TopP and Seed are nil when not given, so that the provider's defaults apply.
	Temperature *float64
	TopP        *float64
	Seed        *int64
	// MaxTokens bounds the answer; 0 when the client gave no limit.
	MaxTokens      int
	ResponseFormat *ResponseFormat
	Stream         bool
	// IncludeUsage: the client asked for a usage chunk at the end of an OpenAI stream. Adapters
	// ask the provider for usage anyway (accounting needs it); the ingress codec drops it when
	// this is false.
	IncludeUsage bool
	User         string
}

// Message is one turn of the conversation.
type Message struct {
	Role    string
	Content []Part
	// ToolCalls are the calls an assistant turn made.
	ToolCalls []ToolCall
	// ToolCallID names the call a RoleTool message answers.
	ToolCallID string
	// IsError marks a tool result that reports a failure (Anthropic's is_error).
	IsError bool
}

// Text joins the message's text parts.
func (m *Message) Text() string { return JoinText(m.Content) }

// JoinText concatenates the text of parts, skipping images.
func JoinText(parts []Part) string {
	if len(parts) == 1 && parts[0].Type == PartText {
		return parts[0].Text
	}
	n := 0
	for _, p := range parts {
		n += len(p.Text)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		if p.Type == PartText {
			b = append(b, p.Text...)
		}
	}
	return string(b)
}

// Part is a piece of message content: text or an image.
type Part struct {
	Type string
	Text string
	// Image: URL is an http(s) URL, or empty with MediaType and Data (base64) set.
	URL       string
	MediaType string
	Data      string
}

// Tool is a function the model may call.
type Tool struct {
	Name        string
	Description string
	// Parameters is the JSON schema of the arguments (an object schema); nil when none given.
	Parameters json.RawMessage
}

// Tool choice modes.
const (
	ToolAuto     = "auto"
	ToolNone     = "none"
	ToolRequired = "required" // some tool must be called
	ToolForced   = "tool"     // ToolChoice.Name must be called
)

// ToolChoice says whether and which tool the model must call.
type ToolChoice struct {
	Mode string
	Name string // for ToolForced
}

// ToolCall is one call the model made. Arguments is JSON text (an object), as OpenAI carries it;
// Anthropic's object form is converted at its codec.
type ToolCall struct {
	ID        string
	Name      string
	Arguments string
}

// ResponseFormat asks for JSON output.
type ResponseFormat struct {
	Type   string          // "text", "json_object" or "json_schema"
	Name   string          // json_schema: the schema's name
	Schema json.RawMessage // json_schema: the schema
	Strict bool
}

// Finish reasons, in OpenAI's vocabulary (each codec maps its own onto these).
const (
	FinishStop          = "stop"
	FinishLength        = "length"
	FinishToolCalls     = "tool_calls"
	FinishContentFilter = "content_filter"
)

// Response is a whole (non-streamed) answer.
type Response struct {
	ID        string
	Model     string
	Text      string
	ToolCalls []ToolCall
	Finish    string
	// StopSequence is the stop sequence that ended the answer, when one did.
	StopSequence string
	Usage        Usage
}

// Usage counts tokens as the provider reported them.
type Usage struct {
	// Input is every prompt token, cached ones included (OpenAI's prompt_tokens).
	Input  int
	Output int
	// CachedInput are prompt tokens read from the provider's prompt cache; CacheWrite those
	// written to it (Anthropic's cache_creation_input_tokens). Both are part of Input.
	CachedInput int
	CacheWrite  int
	// Reasoning are output tokens spent on hidden reasoning; part of Output.
	Reasoning int
}

// Total is Input plus Output.
func (u Usage) Total() int { return u.Input + u.Output }
