package llmdemo

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// start runs a provider on a free loopback port for the duration of the test.
func start(t *testing.T, kind Kind, o Options) (*Server, string) {
	t.Helper()
	s, addr, err := Start(t.Context(), "127.0.0.1:0", kind, o)
	if err != nil {
		t.Fatal(err)
	}
	return s, "http://" + addr.String()
}

// sseLine is one line of an event stream and when it arrived.
type sseLine struct {
	text string
	at   time.Time
}

// post sends body to url and returns the response with its body read line by line, each line
// stamped with its arrival time.
func post(t *testing.T, url string, hdr map[string]string, body string) (*http.Response, []sseLine) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var lines []sseLine
	br := bufio.NewReader(resp.Body)
	for {
		l, err := br.ReadString('\n')
		if l != "" {
			lines = append(lines, sseLine{strings.TrimRight(l, "\r\n"), time.Now()})
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return resp, lines
}

// dataLines keeps the payloads of the `data:` lines.
func dataLines(lines []sseLine) []sseLine {
	var out []sseLine
	for _, l := range lines {
		if d, ok := strings.CutPrefix(l.text, "data: "); ok {
			out = append(out, sseLine{d, l.at})
		}
	}
	return out
}

// assertPaced checks that n events spread over time instead of arriving in one burst.
func assertPaced(t *testing.T, events []sseLine, gap time.Duration) {
	t.Helper()
	if len(events) < 4 {
		t.Fatalf("only %d events, cannot judge pacing", len(events))
	}
	spread := events[len(events)-1].at.Sub(events[0].at)
	if want := time.Duration(len(events)-3) * gap / 2; spread < want {
		t.Fatalf("%d events arrived within %v, want at least %v: the stream was buffered", len(events), spread, want)
	}
}
