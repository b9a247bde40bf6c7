package observe

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func sampleRecord() *Record {
	return &Record{
		Start:        time.Date(2026, 11, 25, 23, 41, 38, 123456789, time.UTC),
		ID:           "01a214e5-3594-71d2-998e-0420f43d41de",
		Listener:     "web",
		Route:        "api",
		Upstream:     "users",
		Target:       "http://10.0.0.1:9000",
		Method:       "GET",
		Host:         "api.example.com",
		Path:         "/v1/users/42",
		Proto:        "HTTP/1.1",
		Status:       200,
		BytesIn:      0,
		BytesOut:     512,
		Duration:     1234567 * time.Nanosecond,
		UpstreamTime: 1100 * time.Microsecond,
		TTFB:         950 * time.Microsecond,
		ClientIP:     netip.MustParseAddr("10.0.0.7"),
		UserAgent:    "curl/8.5.0",
	}
}

// slogLine is what slog.NewJSONHandler writes for r with the same attributes, the reference
// the hand-written encoder must match byte for byte.
func slogLine(t *testing.T, r *Record) string {
	t.Helper()
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, nil)
	attrs := []slog.Attr{
		slog.String("request_id", r.ID), slog.String("listener", r.Listener), slog.String("route", r.Route),
		slog.String("upstream", r.Upstream),
	}
	if r.Target != "" {
		attrs = append(attrs, slog.String("target", r.Target))
	}
	if r.Consumer != "" {
		attrs = append(attrs, slog.String("consumer", r.Consumer))
	}
	ip := ""
	if r.ClientIP.IsValid() {
		ip = r.ClientIP.String()
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	attrs = append(attrs,
		slog.String("method", r.Method), slog.String("host", r.Host), slog.String("path", r.Path), slog.String("proto", r.Proto),
		slog.Int("status", r.Status), slog.Int64("bytes_in", r.BytesIn), slog.Int64("bytes_out", r.BytesOut),
		slog.Float64("duration_ms", ms(r.Duration)), slog.Float64("upstream_ms", ms(r.UpstreamTime)), slog.Float64("ttfb_ms", ms(r.TTFB)),
		slog.String("client_ip", ip), slog.String("user_agent", r.UserAgent), slog.Int("retries", r.Retries))
	if r.Error != "" {
		attrs = append(attrs, slog.String("error", r.Error))
	}
	rec := slog.NewRecord(r.Start, slog.LevelInfo, "access", 0)
	rec.AddAttrs(attrs...)
	if err := h.Handle(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestJSONLineMatchesSlog(t *testing.T) {
	odd := sampleRecord()
	odd.Path = "/a\"b\\c\x01\n\t<&>é\u2028\xff"
	odd.UserAgent = "Mozilla/5.0 (X11; \"quoted\")"
	odd.Consumer = "alice"
	odd.Error = "upstream timed out"
	odd.Status = 504
	odd.Retries = 2
	odd.ClientIP = netip.MustParseAddr("2001:db8::1")
	empty := &Record{Start: time.Unix(0, 0).UTC()}
	local := sampleRecord()
	local.Start = time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 5*3600+1800))
	for name, r := range map[string]*Record{"plain": sampleRecord(), "odd": odd, "empty": empty, "zone": local} {
		got := string(appendJSON(nil, r))
		want := slogLine(t, r)
		if got != want {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(got), &m); err != nil {
			t.Errorf("%s: not JSON: %v", name, err)
		}
	}
}

func TestCommonLine(t *testing.T) {
	r := sampleRecord()
	got := string(appendCommon(nil, r))
	want := `10.0.0.7 - - [25/Nov/2026:23:41:38 +0000] "GET /v1/users/42 HTTP/1.1" 200 512 "curl/8.5.0" request_id=01a214e5-3594-71d2-998e-0420f43d41de host=api.example.com route=api upstream=users target=http://10.0.0.1:9000 duration=0.001235 upstream_time=0.001100 ttfb=0.000950 retries=0 bytes_in=0` + "\n"
	if got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	r.UserAgent, r.Consumer, r.Error, r.BytesOut, r.ClientIP = `a "b" c`, "bob smith", "bad\ngateway", 0, netip.Addr{}
	got = string(appendCommon(nil, r))
	for _, part := range []string{`- - bob\x20smith [`, `" 200 - "a \x22b\x22 c"`, `error="bad\x0agateway"`} {
		if !strings.Contains(got, part) {
			t.Errorf("missing %q in %s", part, got)
		}
	}
	if strings.Count(got, "\n") != 1 {
		t.Errorf("a value split the line: %q", got)
	}
}

// lockedBuffer is a concurrency-safe bytes.Buffer.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestAccessLogWritesAndSamples(t *testing.T) {
	var out lockedBuffer
	l, err := NewAccessLog(AccessLogOptions{Output: &out, Sample: 0.000001})
	if err != nil {
		t.Fatal(err)
	}
	ok, failed, ayaErr := sampleRecord(), sampleRecord(), sampleRecord()
	failed.Status = 502
	ayaErr.Status, ayaErr.Error = 429, "tps pool exhausted"
	for range 1000 {
		l.Record(ok)
	}
	l.Record(failed)
	l.Record(ayaErr)
	l.Close()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("sampling at 1e-6 logged %d lines, want only the 2 failures:\n%s", len(lines), out.String())
	}
	if !strings.Contains(lines[0], `"status":502`) || !strings.Contains(lines[1], `"error":"tps pool exhausted"`) {
		t.Fatalf("lines:\n%s", out.String())
	}
}

func TestAccessLogConcurrent(t *testing.T) {
	var out lockedBuffer
	l, err := NewAccessLog(AccessLogOptions{Output: &out, Format: FormatCommon})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 250 {
				l.Record(sampleRecord())
			}
		}()
	}
	wg.Wait()
	l.Sync()
	if n := strings.Count(out.String(), "\n"); n != 1000 {
		t.Fatalf("%d lines after Sync, want 1000", n)
	}
	l.Close()
	l.Record(sampleRecord()) // after Close: dropped, no panic
	if l.Dropped() != 1 {
		t.Fatalf("dropped %d", l.Dropped())
	}
}

// stuckWriter blocks every write until released: a stalled stdout pipe.
type stuckWriter struct {
	release chan struct{}
	n       int
}

func (s *stuckWriter) Write(p []byte) (int, error) {
	<-s.release
	s.n += len(p)
	return len(p), nil
}

func TestAccessLogNeverBlocks(t *testing.T) {
	out := &stuckWriter{release: make(chan struct{})}
	dropped := prometheus.NewCounter(prometheus.CounterOpts{Name: "d"})
	l, err := NewAccessLog(AccessLogOptions{Output: out, Buffer: 4 << 10, Dropped: dropped})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		for range 1000 {
			l.Record(sampleRecord())
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Record blocked on a stalled output")
	}
	if l.Dropped() == 0 || testutil.ToFloat64(dropped) != float64(l.Dropped()) {
		t.Fatalf("dropped %d, counter %v", l.Dropped(), testutil.ToFloat64(dropped))
	}
	close(out.release)
	l.Close()
	if out.n == 0 || out.n > 2*4<<10 {
		t.Fatalf("wrote %d bytes: the buffer bound (plus the batch in flight) must hold", out.n)
	}
}

func TestAccessLogOptions(t *testing.T) {
	for _, o := range []AccessLogOptions{{}, {Output: &bytes.Buffer{}, Format: "xml"}, {Output: &bytes.Buffer{}, Sample: 2}} {
		if _, err := NewAccessLog(o); err == nil {
			t.Errorf("%+v: want an error", o)
		}
	}
}

func TestRotatingFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	f, err := OpenRotating(path, 100, 2)
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(strings.Repeat("x", 39) + "\n") // 40 bytes: two lines fit, the third rotates
	for range 9 {
		if _, err := f.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	if _, err := f.Write(line); err == nil {
		t.Fatal("write after Close must fail")
	}
	sizes := map[string]int64{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		st, _ := e.Info()
		sizes[e.Name()] = st.Size()
	}
	want := map[string]int64{"access.log": 40, "access.log.1": 80, "access.log.2": 80}
	if len(sizes) != len(want) {
		t.Fatalf("files %v, want %v", sizes, want)
	}
	for k, v := range want {
		if sizes[k] != v {
			t.Fatalf("files %v, want %v", sizes, want)
		}
	}

	// Reopening appends; keep 0 rotates by starting over.
	f, err = OpenRotating(path, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(line)
	f.Write(line)
	f.Close()
	if st, _ := os.Stat(path); st.Size() != 40 {
		t.Fatalf("size %d after rotation without backups", st.Size())
	}
	if _, err := OpenRotating(filepath.Join(dir, "missing", "a.log"), 0, 0); err == nil || !strings.Contains(err.Error(), "directory exists") {
		t.Fatalf("missing directory: %v", err)
	}
}

func BenchmarkAccessLogJSON(b *testing.B) {
	benchAccessLog(b, FormatJSON)
}

func BenchmarkAccessLogCommon(b *testing.B) {
	benchAccessLog(b, FormatCommon)
}

func benchAccessLog(b *testing.B, format string) {
	l, err := NewAccessLog(AccessLogOptions{Output: discard{}, Format: format})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	r := sampleRecord()
	b.ReportAllocs()
	for b.Loop() {
		l.Record(r)
	}
	b.ReportMetric(float64(l.Dropped())/float64(b.N), "dropped/op")
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// The hand-written number and time formats must write what strconv and time would.
func TestFormatsMatchTheLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	zones := []*time.Location{time.UTC, time.FixedZone("E", 5*3600+1800), time.FixedZone("W", -7*3600), time.FixedZone("M", -30*60)}
	for i := range 20000 {
		d := time.Duration(rng.Int64N(int64(100 * time.Second)))
		if i%3 == 0 {
			d = time.Duration(rng.Int64N(5000)) * time.Microsecond
		}
		want := strconv.AppendFloat(nil, float64(d.Microseconds())/1000, 'f', -1, 64)
		if got := appendMillis(nil, d); string(got) != string(want) {
			t.Fatalf("appendMillis(%v) = %s, want %s", d, got, want)
		}
		ts := time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).In(zones[i%len(zones)])
		if i%5 == 0 {
			ts = ts.Truncate(time.Millisecond * time.Duration(1+rng.IntN(1000)))
		}
		if got, want := appendTime(nil, ts), ts.AppendFormat(nil, time.RFC3339Nano); string(got) != string(want) {
			t.Fatalf("appendTime(%v) = %s, want %s", ts, got, want)
		}
	}
}
