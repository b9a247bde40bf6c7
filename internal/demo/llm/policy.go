package llmdemo

import (
	"maps"
	"net/http"
	"strings"
)

// blocked reports whether the request's text holds one of Options.BlockedWords.
func (s *Server) blocked(q *genRequest) bool {
	for _, w := range s.opt.BlockedWords {
		for _, t := range q.texts {
			if w != "" && strings.Contains(strings.ToLower(t), strings.ToLower(w)) {
				return true
			}
		}
	}
	return false
}

// openAIPolicyRefusal is OpenAI's answer to a prompt its safety system rejects.
func openAIPolicyRefusal(w http.ResponseWriter) {
	openAIError(w, http.StatusBadRequest, "Your request was rejected as a result of our safety system. Your prompt may contain text that is not allowed by our safety system.",
		"invalid_request_error", nil, "content_policy_violation")
}

// openAIQuotaRefusal is OpenAI's answer for an account out of credit: a 429 that waiting does
// not cure.
func openAIQuotaRefusal(w http.ResponseWriter) {
	openAIError(w, http.StatusTooManyRequests, "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
		"insufficient_quota", nil, "insufficient_quota")
}

// geminiBlocked is Gemini's answer to a blocked prompt: 200, promptFeedback with the reason
// and ratings, usage of the prompt alone, and no candidates.
func geminiBlocked(model, id string, promptTokens int) map[string]any {
	return map[string]any{
		"promptFeedback": map[string]any{"blockReason": "SAFETY", "safetyRatings": []map[string]any{
			{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true}}},
		"usageMetadata": map[string]any{"promptTokenCount": promptTokens, "totalTokenCount": promptTokens},
		"modelVersion":  model, "responseId": id,
	}
}

// anthropicRefusal answers a blocked prompt the way Claude's classifiers stop one before any
// content: the message, or its stream of message_start, message_delta with stop_reason
// refusal, and message_stop.
func (s *Server) anthropicRefusal(w http.ResponseWriter, r *http.Request, model string, stream bool, promptTokens int) {
	msg := anthropicRefusalMessage(s.newID("msg_"), model, promptTokens)
	if !stream {
		writeJSON(w, http.StatusOK, msg)
		return
	}
	sse := startSSE(w)
	start := maps.Clone(msg)
	start["stop_reason"], start["stop_details"] = nil, nil
	_ = sse.event("message_start", map[string]any{"type": "message_start", "message": start})
	_ = sse.event("message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": "refusal", "stop_sequence": nil, "stop_details": msg["stop_details"]},
		"usage": map[string]any{"output_tokens": 0}})
	_ = sse.event("message_stop", map[string]any{"type": "message_stop"})
}

// anthropicRefusalMessage is a Messages answer that Claude's classifiers stopped before any content:
// 200, stop_reason refusal, stop_details naming the category.
func anthropicRefusalMessage(id, model string, promptTokens int) map[string]any {
	return map[string]any{
		"id": id, "type": "message", "role": "assistant", "model": model, "content": []any{},
		"stop_reason": "refusal", "stop_sequence": nil,
		"stop_details": map[string]any{"type": "refusal", "category": "cyber", "explanation": "This request was declined because it could enable cyber harm."},
		"usage":        anthropicUsage(promptTokens, 0),
	}
}
