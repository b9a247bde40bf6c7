package llm

// EstimateTokens guesses the prompt's size in tokens before the call, to keep a request away
// from deployments whose context window it cannot fit. About four characters per token for
// English text, plus a few tokens of framing per message; images count a fixed amount. The
// provider's reported usage, not this, is what gets accounted.
func EstimateTokens(r *Request) int {
	const perMessage, perImage = 4, 765 // 765: OpenAI's cost of a 512x512 image tile set
	chars := len(r.System)
	n := 0
	for _, m := range r.Messages {
		n += perMessage
		for _, p := range m.Content {
			if p.Type == PartImage {
				n += perImage
			}
			chars += len(p.Text)
		}
		for _, tc := range m.ToolCalls {
			chars += len(tc.Name) + len(tc.Arguments)
		}
	}
	for _, t := range r.Tools {
		chars += len(t.Name) + len(t.Description) + len(t.Parameters)
	}
	return n + (chars+3)/4
}
