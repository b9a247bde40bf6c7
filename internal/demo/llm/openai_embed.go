package llmdemo

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
)

type oaEmbedRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format"`
	Dimensions     int             `json:"dimensions"`
}

// embedInputs reads `input`: a string, strings, a token array or token arrays. Each input comes
// back as the text to embed (token arrays by their numbers) and its token count.
func embedInputs(raw json.RawMessage) ([]string, []int, bool) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, []int{CountTokens(one)}, true
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil && len(many) > 0 {
		n := make([]int, len(many))
		for i, s := range many {
			n[i] = CountTokens(s)
		}
		return many, n, true
	}
	var ids []int
	if json.Unmarshal(raw, &ids) == nil && len(ids) > 0 {
		return []string{tokenKey(ids)}, []int{len(ids)}, true
	}
	var idss [][]int
	if json.Unmarshal(raw, &idss) == nil && len(idss) > 0 {
		texts, n := make([]string, len(idss)), make([]int, len(idss))
		for i, ids := range idss {
			texts[i], n[i] = tokenKey(ids), len(ids)
		}
		return texts, n, true
	}
	return nil, nil, false
}

func tokenKey(ids []int) string {
	b := make([]byte, 0, len(ids)*4)
	for _, id := range ids {
		b = strconv.AppendInt(b, int64(id), 10)
		b = append(b, ',')
	}
	return string(b)
}

// embed is a seeded unit vector: the same text always maps to the same vector.
func embed(text string, dims int, seed int64) []float32 {
	h := fnv.New64a()
	h.Write([]byte(text))
	rng := rand.New(rand.NewPCG(h.Sum64(), uint64(seed)))
	v := make([]float32, dims)
	var norm float64
	for i := range v {
		x := rng.NormFloat64()
		v[i] = float32(x)
		norm += x * x
	}
	norm = math.Sqrt(norm)
	for i := range v {
		v[i] = float32(float64(v[i]) / norm)
	}
	return v
}

// base64Floats is OpenAI's encoding_format=base64: little-endian float32s.
func base64Floats(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return base64.StdEncoding.EncodeToString(b)
}

func (s *Server) openAIEmbeddings(w http.ResponseWriter, r *http.Request) {
	if !s.openAIPreamble(w, r) {
		return
	}
	var q oaEmbedRequest
	if err := readJSON(r, &q); err != nil {
		openAIError(w, http.StatusBadRequest, "We could not parse the JSON body of your request. ("+err.Error()+")", "invalid_request_error", nil, nil)
		return
	}
	if !s.serves(q.Model) {
		openAIModelNotFound(w, q.Model)
		return
	}
	texts, counts, ok := embedInputs(q.Input)
	if !ok {
		openAIError(w, http.StatusBadRequest, "'input' must be a non-empty string, array of strings, or array of token arrays.", "invalid_request_error", "input", nil)
		return
	}
	if q.EncodingFormat != "" && q.EncodingFormat != "float" && q.EncodingFormat != "base64" {
		openAIError(w, http.StatusBadRequest, "Invalid value for 'encoding_format': must be 'float' or 'base64'.", "invalid_request_error", "encoding_format", nil)
		return
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	lim, f := s.admit(callerKey(r), total)
	setOpenAILimits(w.Header(), lim)
	if f != nil {
		openAIRefuse(w, f)
		return
	}
	end, err := s.begin(r.Context(), callerKey(r), total)
	if err != nil {
		return
	}
	defer end(0)
	if sleep(r.Context(), s.opt.TimeToFirstToken) != nil {
		return
	}
	dims := s.opt.EmbeddingDims
	if q.Dimensions > 0 {
		dims = q.Dimensions
	}
	data := make([]map[string]any, len(texts))
	for i, t := range texts {
		v := embed(t, dims, s.opt.Seed)
		var e any = v
		if q.EncodingFormat == "base64" {
			e = base64Floats(v)
		}
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": e}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"object": "list", "data": data, "model": q.Model,
		"usage": map[string]int{"prompt_tokens": total, "total_tokens": total},
	})
}
