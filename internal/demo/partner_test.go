package demo

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestPartnerCapsASlidingSecond(t *testing.T) {
	p := NewPartner(5)
	codes := map[int]int{}
	for i := 0; i < 8; i++ {
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		codes[rec.Code]++
		if rec.Code == 429 && rec.Header().Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}
	if codes[200] != 5 || codes[429] != 3 || p.Served() != 5 || p.Rejected() != 3 {
		t.Fatalf("codes %v served %d rejected %d", codes, p.Served(), p.Rejected())
	}
}

func TestLoadSendsEachService(t *testing.T) {
	seen := make(chan string, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case seen <- r.Header.Get("X-Service"):
		default:
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	Load(ctx, srv.URL, []LoadSpec{{Service: "a", Base: 40}, {Service: "b", Base: 40, Swing: 10, Period: time.Second}})
	got := map[string]bool{}
	for len(seen) > 0 {
		got[<-seen] = true
	}
	if !got["a"] || !got["b"] {
		t.Fatalf("services seen: %v", got)
	}
}
