package serve

import (
	"context"
	"io"
	"testing"
	"time"

	"aya/internal/llm"
)

// fake answers each call (Chat or Stream) with the next scripted outcome: an error, a refusal,
// or (when the script is used up) a short answer.
type fake struct {
	name  string
	steps []step
	calls int
}

type step struct {
	err    *llm.Error
	refuse bool // a 200 that stops with content_filter before any content
	late   bool // streams: err comes as the stream's first event, not as the answer's status
}

func (f *fake) take() step {
	f.calls++
	if len(f.steps) == 0 {
		return step{}
	}
	s := f.steps[0]
	f.steps = f.steps[1:]
	return s
}

func (f *fake) Chat(context.Context, *llm.Request, string) (*llm.Response, error) {
	s := f.take()
	switch {
	case s.err != nil:
		return nil, s.err
	case s.refuse:
		return &llm.Response{Finish: llm.FinishContentFilter}, nil
	}
	return &llm.Response{Text: f.name, Finish: llm.FinishStop}, nil
}

func (f *fake) Stream(context.Context, *llm.Request, string) (llm.Stream, error) {
	s := f.take()
	if s.err != nil && s.late {
		return &events{err: s.err}, nil
	}
	if s.err != nil {
		return nil, s.err
	}
	evs := []llm.Event{{Kind: llm.EventStart}, {Kind: llm.EventText, Text: f.name}, {Kind: llm.EventFinish, Finish: llm.FinishStop}}
	if s.refuse {
		evs = []llm.Event{{Kind: llm.EventStart}, {Kind: llm.EventUsage}, {Kind: llm.EventFinish, Finish: llm.FinishContentFilter}, {Kind: llm.EventUsage}}
	}
	return &events{evs: evs}, nil
}

type events struct {
	evs    []llm.Event
	err    error // instead of the first event
	closed bool
}

func (s *events) Next() (llm.Event, error) {
	if s.err != nil {
		return llm.Event{}, s.err
	}
	if len(s.evs) == 0 {
		return llm.Event{}, io.EOF
	}
	ev := s.evs[0]
	s.evs = s.evs[1:]
	return ev, nil
}

func (s *events) Close() error { s.closed = true; return nil }

// call runs one call through Chat or OpenStream and returns the text of the answer (the
// deployment's name), the attempts and the error.
func call(t *testing.T, r *Router, m *Model, stream bool) (string, []Attempt, *llm.Error) {
	t.Helper()
	plan := r.Plan(m, 0)
	if !stream {
		resp, _, tries, err := r.Chat(context.Background(), &llm.Request{}, plan)
		if err != nil {
			return "", tries, err
		}
		if resp.Finish == llm.FinishContentFilter {
			return "refusal", tries, nil
		}
		return resp.Text, tries, nil
	}
	s, first, _, tries, err := r.OpenStream(context.Background(), &llm.Request{}, plan)
	if err != nil {
		return "", tries, err
	}
	defer s.Close()
	text, ev := "", first
	for {
		if ev.Kind == llm.EventText {
			text += ev.Text
		}
		if ev.Kind == llm.EventFinish && ev.Finish == llm.FinishContentFilter && text == "" {
			text = "refusal"
		}
		var e error
		if ev, e = s.Next(); e != nil {
			return text, tries, nil
		}
	}
}

func pair(steps ...step) (*Router, *Model, *fake, *fake, *Deployment, *time.Time) {
	a, b := &fake{name: "a", steps: steps}, &fake{name: "b"}
	da := &Deployment{Provider: a, ProviderName: "pa", Model: "a", Weight: 1}
	db := &Deployment{Provider: b, ProviderName: "pb", Model: "b"} // a standby: always after a
	m := &Model{Name: "m", Deployments: []*Deployment{da, db}}
	r := NewRouter([]*Model{m}, nil, time.Second)
	now := time.Unix(3_000_000, 0)
	r.now = func() time.Time { return now }
	return r, m, a, b, da, &now
}

// TestFallbackByClass: each class of failure at the first deployment, for a plain call and a
// stream failing before its first byte (in the answer's status, or as its first event):
// whether the next deployment answers, and how long the failed one sits out.
func TestFallbackByClass(t *testing.T) {
	cases := []struct {
		name     string
		err      *llm.Error
		fallback bool
		cool     time.Duration
	}{
		{"rate_limit with retry-after", &llm.Error{Status: 429, Type: llm.ErrRateLimit, Code: "rate_limit_exceeded", RetryAfter: 3 * time.Second}, true, 3 * time.Second},
		{"overloaded", &llm.Error{Status: 529, Type: llm.ErrOverloaded}, true, time.Second},
		{"server_error", &llm.Error{Status: 500, Type: llm.ErrServer}, true, time.Second},
		{"timeout", llm.Errorf(504, llm.ErrTimeout, "no first token"), true, time.Second},
		{"auth", &llm.Error{Status: 401, Type: llm.ErrAuthentication}, true, authCooldown},
		{"insufficient_quota", &llm.Error{Status: 429, Type: llm.ErrRateLimit, Code: "insufficient_quota", Message: "You exceeded your current quota"}, true, authCooldown},
		{"context_length", &llm.Error{Status: 400, Type: llm.ErrInvalidRequest, Code: "context_length_exceeded"}, true, 0},
		{"content_policy (not in the default fallback_on)", &llm.Error{Status: 400, Type: llm.ErrInvalidRequest, Code: "content_policy_violation"}, false, 0},
		{"invalid_request", &llm.Error{Status: 400, Type: llm.ErrInvalidRequest, Message: "bad temperature"}, false, 0},
	}
	for _, c := range cases {
		for _, mode := range []struct{ stream, late bool }{{false, false}, {true, false}, {true, true}} {
			stream := mode.stream
			r, m, _, b, da, now := pair(step{err: c.err, late: mode.late})
			text, tries, err := call(t, r, m, stream)
			if c.fallback != (err == nil && text == "b") || len(tries) != 1 {
				t.Errorf("%s (stream %v, error as first event %v): answer %q, %d tries, err %v; want fallback %v", c.name, stream, mode.late, text, len(tries), err, c.fallback)
			}
			if !c.fallback && (b.calls != 0 || err.Code != c.err.Code) {
				t.Errorf("%s (stream %v): b called %d times, err %v (code %q): want the provider's error at once", c.name, stream, b.calls, err, err.Code)
			}
			got := time.Duration(da.cooldown.Load() - now.UnixNano())
			if c.cool == 0 && da.cooldown.Load() != 0 || c.cool != 0 && got != c.cool {
				t.Errorf("%s (stream %v): cooldown %v, want %v", c.name, stream, got, c.cool)
			}
		}
	}
}

// TestFallbackOnExcludes: a class left out of fallback_on goes back to the client at once.
func TestFallbackOnExcludes(t *testing.T) {
	for _, stream := range []bool{false, true} {
		r, m, _, b, _, _ := pair(step{err: &llm.Error{Status: 429, Type: llm.ErrRateLimit, Code: "rate_limit_exceeded"}})
		m.FallbackOn, _ = ParseClasses([]string{"server_error", "overloaded"})
		_, _, err := call(t, r, m, stream)
		if err == nil || err.Status != 429 || b.calls != 0 {
			t.Errorf("stream %v: err %v, b called %d times: want the 429 at once", stream, err, b.calls)
		}
	}
	if _, err := ParseClasses([]string{"rate_limits"}); err == nil {
		t.Error("an unknown class parsed")
	}
	all, _ := ParseClasses(llm.FallbackClasses)
	for _, c := range llm.FallbackClasses {
		if !all.Has(c) || Classes(0).Has(c) != (c != llm.ClassContentPolicy) {
			t.Errorf("class %s: in all %v, in the default %v", c, all.Has(c), Classes(0).Has(c))
		}
	}
	if none, _ := ParseClasses(nil); none.Has(llm.ClassRateLimit) || Classes(0).Has(llm.ClassInvalidRequest) {
		t.Error("an empty fallback_on falls back, or invalid_request does by default")
	}
}

// TestContextWindowFallback: a context-length error skips the deployments whose window is no
// larger (no cooldown anywhere), tries a larger one of the same model, then the
// context_window_fallbacks model.
func TestContextWindowFallback(t *testing.T) {
	for _, stream := range []bool{false, true} {
		tooLong := &llm.Error{Status: 400, Type: llm.ErrInvalidRequest, Message: "prompt is too long: 5000 tokens > 4096 maximum"}
		s1 := &fake{name: "s1", steps: []step{{err: tooLong}}}
		s2 := &fake{name: "s2"}
		s3 := &fake{name: "s3", steps: []step{{err: tooLong}}}
		other := &fake{name: "other"}
		bigP := &fake{name: "big"}
		d1 := &Deployment{Provider: s1, Model: "s1", Weight: 1, ContextWindow: 4096}
		d2 := &Deployment{Provider: s2, Model: "s2", ContextWindow: 4096}
		d3 := &Deployment{Provider: s3, Model: "s3", ContextWindow: 8192}
		big := &Model{Name: "big", Deployments: []*Deployment{{Provider: bigP, Model: "big", Weight: 1, ContextWindow: 128000}}}
		fb := &Model{Name: "fb", Deployments: []*Deployment{{Provider: other, Model: "other", Weight: 1, ContextWindow: 4096}}}
		m := &Model{Name: "small", Deployments: []*Deployment{d1, d2, d3}, Fallbacks: []*Model{fb}, ContextWindowFallbacks: []*Model{big}}
		r := NewRouter([]*Model{m, big, fb}, nil, time.Second)
		text, tries, err := call(t, r, m, stream)
		if err != nil || text != "big" || len(tries) != 2 || s2.calls != 0 || other.calls != 0 {
			t.Errorf("stream %v: answer %q, %d tries, err %v, s2 %d calls, fallback %d calls", stream, text, len(tries), err, s2.calls, other.calls)
		}
		if d1.cooling(time.Now()) || d3.cooling(time.Now()) {
			t.Errorf("stream %v: a context-length error cooled a deployment down", stream)
		}
	}
}

// TestContentPolicyFallback: a refusal (an error with OpenAI's code, or a 200 stopping with
// content_filter before any content) skips the model's other deployments and goes to its
// content_policy_fallbacks; when that fails too, the refusal is the answer.
func TestContentPolicyFallback(t *testing.T) {
	policy := &llm.Error{Status: 400, Type: llm.ErrInvalidRequest, Code: "content_policy_violation", Message: "Your request was rejected as a result of our safety system."}
	for _, stream := range []bool{false, true} {
		for _, first := range []step{{err: policy}, {refuse: true}} {
			a, a2, safe := &fake{name: "a", steps: []step{first}}, &fake{name: "a2"}, &fake{name: "safe"}
			da := &Deployment{Provider: a, Model: "a", Weight: 1}
			m := &Model{Name: "m", Deployments: []*Deployment{da, {Provider: a2, Model: "a2"}}}
			sm := &Model{Name: "safe", Deployments: []*Deployment{{Provider: safe, Model: "safe", Weight: 1}}}
			m.ContentPolicyFallbacks = []*Model{sm}
			m.FallbackOn, _ = ParseClasses(llm.FallbackClasses)
			r := NewRouter([]*Model{m, sm}, nil, time.Second)
			text, tries, err := call(t, r, m, stream)
			if err != nil || text != "safe" || len(tries) != 1 || a2.calls != 0 || da.cooling(time.Now()) {
				t.Errorf("stream %v, refusal %v: answer %q, %d tries, err %v, a2 %d calls", stream, first.refuse, text, len(tries), err, a2.calls)
			}
			// The fallback fails too: an error refusal comes back with its code, a 200 refusal as it was.
			a.steps, safe.steps = []step{first}, []step{{err: &llm.Error{Status: 500, Type: llm.ErrServer}}}
			text, tries, err = call(t, r, m, stream)
			if first.refuse && (err != nil || text != "refusal") || !first.refuse && (err == nil || err.Status != 500) || len(tries) != 2-boolInt(first.refuse) {
				t.Errorf("stream %v, refusal %v, fallback failing: answer %q, err %v, %d tries", stream, first.refuse, text, err, len(tries))
			}
		}
		// Without content_policy in fallback_on a 200 refusal is the answer, at once.
		r, m, _, b, _, _ := pair(step{refuse: true})
		if text, _, err := call(t, r, m, stream); err != nil || text != "refusal" || b.calls != 0 {
			t.Errorf("stream %v, default rules: answer %q, err %v, b %d calls", stream, text, err, b.calls)
		}
	}
}

// TestProviderKeys: a deployment with two keys spreads calls over them; a 429 at one key cools
// only that key and the same deployment answers at once with the other; when both are
// limited, the deployment counts as cooling and the call moves on.
func TestProviderKeys(t *testing.T) {
	for _, stream := range []bool{false, true} {
		k1, k2, other := &fake{name: "k1"}, &fake{name: "k2"}, &fake{name: "other"}
		d := &Deployment{Provider: k1, Model: "a", Weight: 1, Keys: []*ProviderKey{{Provider: k1, Label: "#1 …aaaa"}, {Provider: k2, Label: "#2 …bbbb"}}}
		m := &Model{Name: "m", Deployments: []*Deployment{d, {Provider: other, Model: "b"}}}
		r := NewRouter([]*Model{m}, nil, time.Second)
		now := time.Unix(3_000_000, 0)
		r.now = func() time.Time { return now }
		for range 4 {
			if _, _, err := call(t, r, m, stream); err != nil {
				t.Fatal(err)
			}
		}
		if k1.calls != 2 || k2.calls != 2 {
			t.Fatalf("stream %v: round robin gave k1 %d calls, k2 %d", stream, k1.calls, k2.calls)
		}
		limited := &llm.Error{Status: 429, Type: llm.ErrRateLimit, RetryAfter: 20 * time.Second}
		k1.steps = []step{{err: limited}} // the next call's key after four
		text, tries, err := call(t, r, m, stream)
		if err != nil || text != "k2" || len(tries) != 1 || d.cooling(now) || tries[0].Key == nil {
			t.Fatalf("stream %v: after one key's 429: answer %q, %d tries, err %v, deployment cooling %v", stream, text, len(tries), err, d.cooling(now))
		}
		limitedKey := tries[0].Key
		if !limitedKey.Cooling(now) || limitedKey.CoolingUntil(now) != now.Add(20*time.Second) {
			t.Fatalf("stream %v: the limited key is not cooling for its retry-after", stream)
		}
		// The other key is limited too: the deployment is cooling and the call moves on.
		k2.steps = []step{{err: limited}}
		text, tries, err = call(t, r, m, stream)
		if err != nil || text != "other" || len(tries) != 1 || !d.cooling(now) {
			t.Fatalf("stream %v: both keys limited: answer %q, %d tries, err %v, cooling %v", stream, text, len(tries), err, d.cooling(now))
		}
		// A 5xx cools the whole deployment, whatever the key.
		now = now.Add(time.Minute)
		k1.steps, k2.steps = []step{{err: &llm.Error{Status: 500, Type: llm.ErrServer}}}, []step{{err: &llm.Error{Status: 500, Type: llm.ErrServer}}}
		if text, _, _ = call(t, r, m, stream); text != "other" || !d.cooling(now) || d.Keys[0].Cooling(now) && d.Keys[1].Cooling(now) {
			t.Fatalf("stream %v: a 500 answered by %q; deployment cooling %v", stream, text, d.cooling(now))
		}
	}
	if l := KeyLabel(1, "sk-proj-abcdef1234"); l != "#2 …1234" {
		t.Errorf("KeyLabel = %q", l)
	}
}

// TestCooldownAfter: with cooldown_after 3, two 5xx in a row leave the deployment in
// rotation, the third cools it; a success in between starts the count again; a 429 cools at
// once.
func TestCooldownAfter(t *testing.T) {
	e500 := step{err: &llm.Error{Status: 500, Type: llm.ErrServer}}
	r, m, a, _, da, now := pair(e500, e500, step{}, e500, e500, e500)
	r.SetCooldownAfter(3)
	for i, want := range []bool{false, false, false, false, false, true} {
		call(t, r, m, false)
		if da.cooling(*now) != want {
			t.Fatalf("after call %d: cooling %v, want %v", i+1, da.cooling(*now), want)
		}
	}
	da.cooldown.Store(0)
	a.steps = []step{{err: &llm.Error{Status: 429, Type: llm.ErrRateLimit}}}
	call(t, r, m, false)
	if !da.cooling(*now) {
		t.Fatal("a 429 did not cool at once with cooldown_after 3")
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func BenchmarkPick(b *testing.B) {
	d := &Deployment{Keys: []*ProviderKey{{}, {}, {}}}
	b.ReportAllocs()
	for b.Loop() {
		_ = d.pick(time.Now)
	}
}
