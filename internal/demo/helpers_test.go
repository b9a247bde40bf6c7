package demo

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// startEcho runs an echo server on a free loopback port for the duration of the test.
func startEcho(t *testing.T, opts EchoOptions) string {
	t.Helper()
	addr, err := Start(t.Context(), "127.0.0.1:0", NewEcho(opts))
	if err != nil {
		t.Fatal(err)
	}
	return "http://" + addr.String()
}

// get fetches url and returns the response with its body read.
func get(t *testing.T, c *http.Client, url string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, c, req)
}

func do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func decode[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	return v
}
