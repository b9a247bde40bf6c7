package llmdemo

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// created is the fixed `created` of models, so listings are deterministic.
const created = 1_700_000_000

func (s *Server) serveOpenAI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-request-id", s.newID("req_"))
	switch {
	case r.URL.Path == "/v1/chat/completions" && r.Method == http.MethodPost:
		s.openAIChat(w, r)
	case r.URL.Path == "/v1/embeddings" && r.Method == http.MethodPost:
		s.openAIEmbeddings(w, r)
	case r.URL.Path == "/v1/models" && r.Method == http.MethodGet:
		s.openAIModels(w, r)
	case strings.HasPrefix(r.URL.Path, "/v1/models/") && r.Method == http.MethodGet:
		s.openAIModel(w, r)
	default:
		openAIError(w, http.StatusNotFound, "Invalid URL ("+r.Method+" "+r.URL.Path+")", "invalid_request_error", nil, nil)
	}
}

// openAIErr is OpenAI's error object; code and param are always present, null when unset.
type openAIErr struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Param   any    `json:"param"`
	Code    any    `json:"code"`
}

func openAIError(w http.ResponseWriter, status int, msg, typ string, param, code any) {
	writeJSON(w, status, map[string]openAIErr{"error": {Message: msg, Type: typ, Param: param, Code: code}})
}

// openAIRefuse answers a refusal the way OpenAI words each status.
func openAIRefuse(w http.ResponseWriter, f *refusal) {
	if f.retryAfter > 0 {
		w.Header().Set("retry-after", strconv.Itoa(f.retryAfter))
	}
	switch f.status {
	case http.StatusBadRequest:
		openAIError(w, f.status, "Invalid request ("+f.reason+").", "invalid_request_error", nil, nil)
	case http.StatusUnauthorized:
		openAIError(w, f.status, "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.", "invalid_request_error", nil, "invalid_api_key")
	case http.StatusForbidden:
		openAIError(w, f.status, "You are not allowed to access this resource.", "invalid_request_error", nil, "unsupported_country_region_territory")
	case http.StatusNotFound:
		openAIError(w, f.status, "The model does not exist or you do not have access to it.", "invalid_request_error", "model", "model_not_found")
	case http.StatusTooManyRequests:
		typ := "requests"
		if strings.HasPrefix(f.reason, "tokens") {
			typ = "tokens"
		}
		openAIError(w, f.status, "Rate limit reached ("+f.reason+"). Please try again in "+strconv.Itoa(f.retryAfter)+"s.", typ, nil, "rate_limit_exceeded")
	case http.StatusServiceUnavailable, 529:
		openAIError(w, f.status, "The engine is currently overloaded, please try again later.", "server_error", nil, nil)
	default:
		openAIError(w, f.status, "The server had an error while processing your request. Sorry about that!", "server_error", nil, nil)
	}
}

// openAIAuth checks the bearer key and answers 401 like OpenAI when it is missing or wrong.
func (s *Server) openAIAuth(w http.ResponseWriter, r *http.Request) bool {
	key, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if s.keyOK(key) {
		return true
	}
	if key == "" {
		openAIError(w, http.StatusUnauthorized, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", "invalid_request_error", nil, nil)
		return false
	}
	openAIRefuse(w, &refusal{status: http.StatusUnauthorized})
	return false
}

// openAIPreamble runs the checks every generation endpoint shares: injected failures, key.
func (s *Server) openAIPreamble(w http.ResponseWriter, r *http.Request) bool {
	if f := s.injectedStatus(); f != nil {
		openAIRefuse(w, f)
		return false
	}
	if !s.openAIAuth(w, r) {
		return false
	}
	if s.opt.InsufficientQuota {
		openAIQuotaRefusal(w)
		return false
	}
	return true
}

func openAIModelNotFound(w http.ResponseWriter, model string) {
	openAIError(w, http.StatusNotFound, "The model `"+model+"` does not exist or you do not have access to it.", "invalid_request_error", nil, "model_not_found")
}

type openAIModel struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func (s *Server) openAIModels(w http.ResponseWriter, r *http.Request) {
	if !s.openAIAuth(w, r) {
		return
	}
	data := make([]openAIModel, 0, len(s.opt.Models))
	for _, m := range s.opt.Models {
		data = append(data, openAIModel{ID: m, Object: "model", Created: created, OwnedBy: s.opt.Name})
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

// openAIModel serves /v1/models/{id}; the id is taken from the escaped path so that an id with
// "/" (sent as %2F) stays one id.
func (s *Server) openAIModel(w http.ResponseWriter, r *http.Request) {
	if !s.openAIAuth(w, r) {
		return
	}
	id, err := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), "/v1/models/"))
	if err != nil || !s.serves(id) {
		openAIModelNotFound(w, id)
		return
	}
	writeJSON(w, http.StatusOK, openAIModel{ID: id, Object: "model", Created: created, OwnedBy: s.opt.Name})
}

func unix() int64 { return time.Now().Unix() }
