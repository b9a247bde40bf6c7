package serve

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"aya/internal/httpx"
	"aya/internal/llm"
)

func TestParsePriority(t *testing.T) {
	tests := []struct {
		in   string
		want Priority
		ok   bool
	}{
		{"critical", PriorityCritical, true}, {"HIGH", PriorityHigh, true}, {"medium", PriorityMedium, true},
		{"low", PriorityLow, true}, {"urgent", PriorityMedium, false}, {"", PriorityMedium, false},
	}
	for _, tt := range tests {
		got, err := ParsePriority(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("%q: %v %v, want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if tt.ok && got.String() != tt.want.String() {
			t.Errorf("%q: String %q", tt.in, got.String())
		}
	}
	var zero Priority
	if zero != PriorityMedium || zero.level().String() != "medium" {
		t.Fatalf("the zero priority is %v, want medium", zero)
	}
}

func TestClassify(t *testing.T) {
	h := &Handler{}
	h.pools.queueTimeout, h.pools.batchTimeout = time.Second, time.Minute
	plain := &Key{Name: "plain", Priority: PriorityHigh}
	open := &Key{Name: "open", AllowPriorityHeader: true}
	batch := &Key{Name: "batch", Batch: true}
	tests := []struct {
		name      string
		key       *Key
		hdr       []string
		tier      string
		deadline  time.Duration // 0: none
		wantParam string        // a 400 naming this header
	}{
		{"key priority", plain, nil, "high", 0, ""},
		{"header ignored without allow", plain, []string{"x-aya-priority", "critical"}, "high", 0, ""},
		{"header allowed", open, []string{"x-aya-priority", "critical"}, "critical", 0, ""},
		{"default medium", open, nil, "medium", 0, ""},
		{"bad priority", open, []string{"x-aya-priority", "urgent"}, "", 0, "x-aya-priority"},
		{"batch key", batch, nil, "batch", time.Minute, ""},
		{"batch header", plain, []string{"x-aya-batch", "true"}, "batch", time.Minute, ""},
		{"batch header false keeps a batch key", batch, []string{"x-aya-batch", "false"}, "batch", time.Minute, ""},
		{"batch own deadline", plain, []string{"x-aya-batch", "1", "x-aya-deadline", "30"}, "batch", 30 * time.Second, ""},
		{"interactive deadline", plain, []string{"x-aya-deadline", "0.5"}, "high", 500 * time.Millisecond, ""},
		{"deadline capped", batch, []string{"x-aya-deadline", "1e9"}, "batch", maxDeadline, ""},
		{"bad batch", plain, []string{"x-aya-batch", "yes please"}, "", 0, "x-aya-batch"},
		{"bad deadline", plain, []string{"x-aya-deadline", "-3"}, "", 0, "x-aya-deadline"},
	}
	for _, tt := range tests {
		r := &httpx.Request{}
		for i := 0; i+1 < len(tt.hdr); i += 2 {
			r.Header.Add(tt.hdr[i], tt.hdr[i+1])
		}
		start := time.Now()
		c, e := h.classify(r, tt.key)
		if tt.wantParam != "" {
			if e == nil || e.Status != 400 || e.Param != tt.wantParam {
				t.Errorf("%s: %v, want a 400 naming %s", tt.name, e, tt.wantParam)
			}
			continue
		}
		if e != nil || c.Tier() != tt.tier || c.Wait != time.Second {
			t.Errorf("%s: %+v %v, want tier %s", tt.name, c, e, tt.tier)
			continue
		}
		if got := c.Deadline; tt.deadline == 0 && !got.IsZero() ||
			tt.deadline > 0 && (got.Before(start.Add(tt.deadline)) || got.After(time.Now().Add(tt.deadline))) {
			t.Errorf("%s: deadline in %v, want %v", tt.name, time.Until(got), tt.deadline)
		}
	}
}

// tagged answers at once and remembers the order calls reached it, by req.User.
type tagged struct {
	mu    sync.Mutex
	order []string
}

func (p *tagged) Chat(_ context.Context, req *llm.Request, _ string) (*llm.Response, error) {
	p.mu.Lock()
	p.order = append(p.order, req.User)
	p.mu.Unlock()
	return &llm.Response{Text: "ok", Usage: llm.Usage{Input: 3, Output: 1}}, nil
}

func (p *tagged) Stream(context.Context, *llm.Request, string) (llm.Stream, error) {
	return nil, llm.Errorf(500, llm.ErrServer, "unused")
}

// poolEnv is one model on one deployment with rpm, its pool started.
func poolEnv(t *testing.T, rpm int, o PoolOptions) (*Router, []*Deployment, *tagged, *Handler) {
	t.Helper()
	p := &tagged{}
	d := &Deployment{Provider: p, ProviderName: "demo", Model: "m-1", Weight: 1, RPM: rpm}
	m := &Model{Name: "m", Strategy: Weighted, Deployments: []*Deployment{d}}
	r := NewRouter([]*Model{m}, nil, time.Minute)
	h := NewHandler(r, NewKeys(nil, nil), nil, slog.New(slog.DiscardHandler))
	if err := h.StartPools(o); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return r, r.Plan(m, 0), p, h
}

type outcome struct {
	tier string
	err  *llm.Error
}

// fire sends n calls of class cl at once, tagged with its tier, and sends their outcomes to out.
func fire(wg *sync.WaitGroup, r *Router, plan []*Deployment, cl Class, n int, out chan<- outcome) {
	for range n {
		wg.Go(func() {
			_, _, _, e := r.Chat(WithClass(context.Background(), cl), &llm.Request{User: cl.Tier()}, plan)
			out <- outcome{cl.Tier(), e}
		})
	}
}

// TestPriorityUnderSaturation: a deployment of 10 requests per second is flooded with low calls,
// then critical ones arrive. Every critical call is served, ahead of the lows still waiting;
// the lows that cannot be served within their wait get 429 rate_limit_exceeded with a
// Retry-After, and the provider never sees more than the pool allows.
func TestPriorityUnderSaturation(t *testing.T) {
	const rpm, lows, crits = 600, 30, 10
	wait := 1500 * time.Millisecond
	r, plan, p, h := poolEnv(t, rpm, PoolOptions{QueueTimeout: wait})
	out := make(chan outcome, lows+crits)
	var wg sync.WaitGroup
	start := time.Now()
	fire(&wg, r, plan, Class{Priority: PriorityLow, Wait: wait}, lows, out)
	time.Sleep(100 * time.Millisecond) // the lows are queued by now
	fire(&wg, r, plan, Class{Priority: PriorityCritical, Wait: wait}, crits, out)
	wg.Wait()
	took := time.Since(start)
	close(out)
	served := map[string]int{}
	refused := 0
	for o := range out {
		switch {
		case o.err == nil:
			served[o.tier]++
		case o.err.Status == 429 && o.err.Code == "rate_limit_exceeded" && o.err.RetryAfter > 0 && o.tier == "low":
			refused++
		default:
			t.Errorf("%s call: %v", o.tier, o.err)
		}
	}
	if served["critical"] != crits {
		t.Fatalf("critical served %d of %d", served["critical"], crits)
	}
	if refused == 0 || served["low"]+refused != lows {
		t.Fatalf("low: %d served, %d refused of %d; want some refused", served["low"], refused, lows)
	}
	// At most the pool's rate reached the provider (plus one tick's burst).
	if max := int(float64(rpm)/60*took.Seconds()) + 5; len(p.order) > max {
		t.Fatalf("%d calls reached the provider in %v, more than %d", len(p.order), took, max)
	}
	// Once the criticals arrived, no low call overtook the last of them: every low sent after
	// the first critical comes after all criticals, except those already holding a token.
	first := -1
	for i, tier := range p.order {
		if tier == "critical" {
			first = i
			break
		}
	}
	lowsAmong := 0
	for _, tier := range p.order[first:] {
		if tier == "critical" {
			break
		}
		lowsAmong++
	}
	lastCrit := 0
	for i, tier := range p.order {
		if tier == "critical" {
			lastCrit = i
		}
	}
	if overtaken := lastCrit - first + 1 - crits; overtaken > 2 {
		t.Fatalf("order %v: %d low calls went between the criticals", p.order, overtaken)
	}
	t.Logf("low %d served, %d refused; order %v", served["low"], refused, p.order)
	snap := h.PoolSnapshots()
	if len(snap) != 1 || snap[0].Services[0].Name != "critical" || snap[0].Services[0].Admitted != crits {
		t.Fatalf("snapshot: %+v", snap)
	}
}

// TestBatchWaits: batch calls on a saturated deployment wait for spare capacity instead of
// being refused, for as long as their deadline allows, and interactive calls arriving
// meanwhile go first; a batch call whose deadline is too short for the backlog gets 429.
func TestBatchWaits(t *testing.T) {
	const rpm, batches, mediums = 600, 25, 8
	wait := 2 * time.Second
	r, plan, p, _ := poolEnv(t, rpm, PoolOptions{QueueTimeout: wait})
	out := make(chan outcome, batches+mediums+1)
	var wg sync.WaitGroup
	fire(&wg, r, plan, Class{Batch: true, Deadline: time.Now().Add(20 * time.Second)}, batches, out)
	time.Sleep(100 * time.Millisecond)
	fire(&wg, r, plan, Class{Priority: PriorityMedium, Wait: wait}, mediums, out)
	wg.Wait()
	// The backlog is gone; fill the window again and send a batch call with a short deadline.
	fire(&wg, r, plan, Class{Priority: PriorityHigh, Wait: 5 * time.Second}, 20, make(chan outcome, 20))
	time.Sleep(50 * time.Millisecond)
	fire(&wg, r, plan, Class{Batch: true, Deadline: time.Now().Add(200 * time.Millisecond)}, 1, out)
	wg.Wait()
	close(out)
	served := map[string]int{}
	var short *llm.Error
	for o := range out {
		switch {
		case o.err == nil:
			served[o.tier]++
		case o.tier == "batch" && short == nil:
			short = o.err
		default:
			t.Errorf("%s call refused: %v", o.tier, o.err)
		}
	}
	if served["batch"] != batches || served["medium"] != mediums {
		t.Fatalf("served %v, want %d batch and %d medium", served, batches, mediums)
	}
	if short == nil || short.Status != 429 || short.Code != "rate_limit_exceeded" {
		t.Fatalf("a batch call past its deadline: %v, want 429 rate_limit_exceeded", short)
	}
	// Every medium call reached the provider before the last batch call did.
	lastMedium, lastBatch := -1, -1
	for i, tier := range p.order {
		switch tier {
		case "medium":
			lastMedium = i
		case "batch":
			if lastBatch < 0 || i < batches+mediums {
				lastBatch = i
			}
		}
	}
	if lastMedium > lastBatch {
		t.Fatalf("order %v: a medium call came after the batch backlog", p.order[:batches+mediums])
	}
}

// TestSmallRPM: a deployment under 60 rpm gets a token pool of requests: the minute's rpm
// holds, a critical call waiting goes before a low one that came first, and the low one's
// refusal names the rpm.
func TestSmallRPM(t *testing.T) {
	r, plan, p, h := poolEnv(t, 30, PoolOptions{}) // half a request a second, a burst of 5
	if len(h.PoolSnapshots()) != 0 || plan[0].capacity == nil || plan[0].capacity.requests == nil {
		t.Fatal("no request pool for 30 rpm")
	}
	for range 5 {
		if _, _, _, e := r.Chat(WithClass(context.Background(), Class{Priority: PriorityLow}), &llm.Request{}, plan); e != nil {
			t.Fatal(e)
		}
	}
	out := make(chan outcome, 2)
	var wg sync.WaitGroup
	fire(&wg, r, plan, Class{Priority: PriorityLow, Wait: 2500 * time.Millisecond}, 1, out)
	time.Sleep(50 * time.Millisecond)
	fire(&wg, r, plan, Class{Priority: PriorityCritical, Wait: 2500 * time.Millisecond}, 1, out)
	wg.Wait()
	close(out)
	for o := range out {
		switch o.tier {
		case "critical":
			if o.err != nil {
				t.Fatalf("critical: %v", o.err)
			}
		case "low":
			if o.err == nil || o.err.Status != 429 || !strings.Contains(o.err.Message, "rpm (30)") {
				t.Fatalf("low: %v, want a 429 naming the rpm", o.err)
			}
		}
	}
	if len(p.order) != 6 || p.order[5] != "critical" {
		t.Fatalf("the provider saw %v", p.order)
	}
}

// tpmEnv is one model on two deployments: the first with tpm (a bucket of tpm/6), the second,
// a standby, without limits.
func tpmEnv(t *testing.T, tpm int) (*Router, []*Deployment, *tagged, *tagged) {
	t.Helper()
	p1, p2 := &tagged{}, &tagged{}
	d1 := &Deployment{Provider: p1, ProviderName: "demo", Model: "m-1", Weight: 1, TPM: tpm}
	d2 := &Deployment{Provider: p2, ProviderName: "spare", Model: "m-2"}
	m := &Model{Name: "m", Strategy: Weighted, Deployments: []*Deployment{d1, d2}}
	r := NewRouter([]*Model{m}, nil, time.Minute)
	h := NewHandler(r, NewKeys(nil, nil), nil, slog.New(slog.DiscardHandler))
	if err := h.StartPools(PoolOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return r, r.Plan(m, 0), p1, p2
}

// TestTPMMovesOn: an interactive call that finds the tpm spent waits queue_timeout, then goes
// to the next deployment of its plan, which is not put in cooldown; once the first call's
// overestimate is settled, the tokens are back.
func TestTPMMovesOn(t *testing.T) {
	r, plan, p1, p2 := tpmEnv(t, 600) // a bucket of 100 tokens
	ctx := WithClass(context.Background(), Class{Priority: PriorityHigh, Tokens: 100})
	if _, d, _, e := r.Chat(ctx, &llm.Request{User: "first"}, plan); e != nil || d != plan[0] {
		t.Fatalf("first call: %v on %v", e, d)
	}
	start := time.Now()
	_, d, tries, e := r.Chat(WithClass(context.Background(), Class{Priority: PriorityCritical, Tokens: 50, Wait: 100 * time.Millisecond}), &llm.Request{}, plan)
	if e != nil || d != plan[1] || len(tries) != 1 || !tries[0].Refused || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("second call: %v on %v after %v, tries %+v", e, d, time.Since(start), tries)
	}
	if !strings.Contains(tries[0].Err.Message, "tpm (600)") || tries[0].Err.RetryAfter < time.Second {
		t.Fatalf("refusal: %+v", tries[0].Err)
	}
	if plan[0].cooling(time.Now()) {
		t.Fatal("the saturated deployment cools down")
	}
	SettleTokens(ctx, 20) // the first call used 20 of its 100
	if _, d, _, e := r.Chat(WithClass(context.Background(), Class{Priority: PriorityLow, Tokens: 60}), &llm.Request{}, plan); e != nil || d != plan[0] {
		t.Fatalf("after the settlement: %v on %v", e, d)
	}
	if len(p1.order) != 2 || len(p2.order) != 1 {
		t.Fatalf("calls: %v on the tpm deployment, %v on the standby", p1.order, p2.order)
	}
}

// TestTPMBatchWaits: a batch call waits for spare tokens, past queue_timeout, and is answered
// by the saturated deployment, not sent on to the next one.
func TestTPMBatchWaits(t *testing.T) {
	r, plan, p1, p2 := tpmEnv(t, 600)
	r.Chat(WithClass(context.Background(), Class{Tokens: 100}), &llm.Request{}, plan)
	start := time.Now()
	cl := Class{Batch: true, Tokens: 10, Deadline: time.Now().Add(20 * time.Second)}
	if _, d, _, e := r.Chat(WithClass(context.Background(), cl), &llm.Request{User: "batch"}, plan); e != nil || d != plan[0] {
		t.Fatalf("batch: %v on %v", e, d)
	}
	// 10 tokens and a quarter of the bucket's 100 at 10 a second.
	if took := time.Since(start); took < 3*time.Second {
		t.Fatalf("batch admitted after %v, before the reserve refilled", took)
	}
	if len(p1.order) != 2 || len(p2.order) != 0 {
		t.Fatalf("calls: %v, %v", p1.order, p2.order)
	}
}

// TestClientLeavesWhileQueued: a call whose client goes away while it waits ends with 499 at
// once, and is not counted as a failure of the deployment.
func TestClientLeavesWhileQueued(t *testing.T) {
	r, plan, _, _ := poolEnv(t, 60, PoolOptions{})
	ctx := WithClass(context.Background(), Class{Priority: PriorityLow, Wait: 10 * time.Second})
	r.Chat(ctx, &llm.Request{}, plan) // takes the one token
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, tries, e := r.Chat(cctx, &llm.Request{}, plan)
	if e == nil || e.Status != 499 || time.Since(start) > 2*time.Second || len(tries) != 1 || !tries[0].Refused {
		t.Fatalf("%v after %v, tries %+v", e, time.Since(start), tries)
	}
	if plan[0].cooling(time.Now()) {
		t.Fatal("the deployment cools down after a call that left")
	}
}

func BenchmarkClassify(b *testing.B) {
	b.ReportAllocs()
	h := &Handler{}
	h.pools.queueTimeout, h.pools.batchTimeout = time.Second, time.Minute
	key := &Key{Name: "k", AllowPriorityHeader: true}
	r := &httpx.Request{}
	r.Header.Add("x-aya-priority", "high")
	for b.Loop() {
		if _, e := h.classify(r, key); e != nil {
			b.Fatal(e)
		}
	}
}

// BenchmarkAdmit is the admission of a call on a deployment with room: on its rpm pool (tps),
// its tpm pool, both, or the request pool of an rpm under 60; the token reservation is settled
// as the handler does after the call.
func BenchmarkAdmit(b *testing.B) {
	for _, bc := range []struct {
		name     string
		rpm, tpm int
	}{{"rpm", 6e9, 0}, {"tpm", 0, 6e12}, {"rpm+tpm", 6e9, 6e12}, {"rpm<60", 59, 0}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			d := &Deployment{Provider: &tagged{}, ProviderName: "demo", Model: "m-1", Weight: 1, RPM: bc.rpm, TPM: bc.tpm}
			m := &Model{Name: "m", Strategy: Weighted, Deployments: []*Deployment{d}}
			h := NewHandler(NewRouter([]*Model{m}, nil, time.Minute), NewKeys(nil, nil), nil, slog.New(slog.DiscardHandler))
			if err := h.StartPools(PoolOptions{}); err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			if bc.rpm > 0 && bc.rpm < 60 {
				d.capacity.requests = newTokenPool(6e12, poolQueue, time.Now) // room for every call
			}
			cl := Class{Priority: PriorityHigh, Wait: time.Second, Tokens: 500}
			ctx := WithClass(context.Background(), cl)
			for b.Loop() {
				if e := cl.admit(ctx, d); e != nil {
					b.Fatal(e)
				}
				SettleTokens(ctx, 400)
			}
		})
	}
}

// TestPriorityHandler: through the handler, a saturated deployment's refusal is a 429 in the
// client's API shape with Retry-After, for plain and streamed calls, and a bad priority
// header is a 400 naming it.
func TestPriorityHandler(t *testing.T) {
	low := &Key{Name: "low", Priority: PriorityLow, AllowPriorityHeader: true}
	e := newEnv(t, map[string]*Key{"sk-low": low})
	e.router.models["gpt"].Deployments[0].RPM = 60 // one call a second
	if err := e.h.StartPools(PoolOptions{QueueTimeout: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.h.Close)
	auth := []string{"Authorization", "Bearer sk-low"}
	if w := e.do("POST", "/v1/chat/completions", body(oaBody, "gpt", ""), auth...); w.status != 200 {
		t.Fatalf("first call: %d %s", w.status, w.body.String())
	}
	tests := []struct {
		path, tmpl, extra, want string
	}{
		{"/v1/chat/completions", oaBody, "", `"code":"rate_limit_exceeded"`},
		{"/v1/chat/completions", oaBody, `,"stream":true`, `"code":"rate_limit_exceeded"`},
		{"/v1/messages", anBody, `,"stream":true`, `"type":"rate_limit_error"`},
	}
	for _, tt := range tests {
		w := e.do("POST", tt.path, body(tt.tmpl, "gpt", tt.extra), auth...)
		if w.status != 429 || w.header.Get("Retry-After") == "" || !strings.Contains(w.body.String(), tt.want) {
			t.Errorf("%s %s: %d retry-after %q %s", tt.path, tt.extra, w.status, w.header.Get("Retry-After"), w.body.String())
		}
	}
	w := e.do("POST", "/v1/chat/completions", body(oaBody, "gpt", ""), append(auth, "x-aya-priority", "asap")...)
	if w.status != 400 || !strings.Contains(w.body.String(), `"param":"x-aya-priority"`) {
		t.Fatalf("bad header: %d %s", w.status, w.body.String())
	}
}

// TestSharedPools: with Shared (a cluster), every rpm gets a request pool, which starts on a
// share of 0 and takes a share below one request a second; every pool is listed under a stable
// name, its share admits, and the pool that replaces it after a reload keeps its minute.
func TestSharedPools(t *testing.T) {
	r, plan, _, h := poolEnv(t, 90, PoolOptions{Shared: true})
	if len(h.PoolSnapshots()) != 0 || plan[0].capacity.requests == nil {
		t.Fatal("a shared rpm of 90 got no request pool")
	}
	sp := h.SharedPools()
	if len(sp) != 1 || sp[0].Key != "llm:m/demo/m-1:rpm" || sp[0].PerMinute != 90 || sp[0].Window() != windowSlots*time.Second {
		t.Fatalf("shared pools %+v", sp)
	}
	call := func() *llm.Error {
		_, _, _, e := r.Chat(WithClass(context.Background(), Class{Priority: PriorityHigh, Wait: 50 * time.Millisecond}), &llm.Request{}, plan)
		return e
	}
	if e := call(); e == nil || e.Status != 429 {
		t.Fatalf("before its first share the pool answered %v, want 429", e)
	}
	sp[0].SetShare(45) // 0.75 a second: a TPS pool would admit nothing
	if e := call(); e != nil {
		t.Fatalf("a share of 45 rpm: %v", e)
	}
	if got := sp[0].Arrived(); got != 2 {
		t.Fatalf("arrived %v, want 2", got)
	}
	if got := sp[0].Used(); got != 1 {
		t.Fatalf("used %v, want 1", got)
	}
	_, _, _, reloaded := poolEnv(t, 90, PoolOptions{Shared: true})
	next := reloaded.SharedPools()[0]
	next.Inherit(sp[0])
	if got := next.Used(); got != 1 {
		t.Fatalf("the reloaded pool's minute holds %v, want the 1 admitted before the reload", got)
	}
	// Standalone, an rpm of 60 or more keeps its TPS pool, shared under the same name.
	_, _, _, h = poolEnv(t, 90, PoolOptions{})
	if sp := h.SharedPools(); len(h.PoolSnapshots()) != 1 || len(sp) != 1 || sp[0].Window() != 0 || sp[0].Used() != 0 {
		t.Fatalf("standalone rpm 90: %d TPS pools, shared %+v", len(h.PoolSnapshots()), sp)
	}
}
