package serve

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

func TestEmbeddings(t *testing.T) {
	e := newEnv(t, nil)
	w := e.do("POST", "/v1/embeddings", `{"model":"embed","input":["one","two","three"]}`)
	var out struct {
		Data []struct {
			Index     int
			Embedding json.RawMessage
		}
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
		}
	}
	if err := json.Unmarshal(w.body.Bytes(), &out); err != nil || w.status != 200 || len(out.Data) != 3 || out.Usage.PromptTokens == 0 {
		t.Fatalf("%d %s", w.status, w.body.String())
	}
	for i, d := range out.Data {
		if d.Index != i || d.Embedding[0] != '[' {
			t.Fatalf("data[%d]: index %d, %.20s", i, d.Index, d.Embedding)
		}
	}
	w = e.do("POST", "/v1/embeddings", `{"model":"embed","input":"x","encoding_format":"base64"}`)
	if err := json.Unmarshal(w.body.Bytes(), &out); err != nil || len(out.Data) != 1 {
		t.Fatalf("%s", w.body.String())
	}
	var b64 string
	if err := json.Unmarshal(out.Data[0].Embedding, &b64); err != nil {
		t.Fatalf("base64 embedding is not a string: %s", out.Data[0].Embedding)
	}
	if raw, err := base64.StdEncoding.DecodeString(b64); err != nil || len(raw)%4 != 0 {
		t.Fatalf("base64: %v, %d bytes", err, len(raw))
	}
	if w := e.do("POST", "/v1/embeddings", `{"model":"claude","input":"x"}`); w.status != 400 || !strings.Contains(w.body.String(), "embeddings") {
		t.Fatalf("%d %s", w.status, w.body.String())
	}
}
