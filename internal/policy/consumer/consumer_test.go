package consumer

import (
	"context"
	"strings"
	"testing"

	"aya/internal/policy"
)

type claims map[string]string

func (c claims) Claim(n string) (string, bool) { v, ok := c[n]; return v, ok }

func fileView(t *testing.T, reg *Registry) *View {
	t.Helper()
	d, err := NewDirectory([]Spec{
		{Name: "alice", Groups: []string{"paid"}, Keys: []KeyHash{Hash("alice-key")}, BasicUser: "alice", BasicHash: "$2y$hash", Claims: []Claim{{"sub", "alice@x"}}},
		{Name: "bob", Keys: []KeyHash{Hash("bob-key")}, Claims: []Claim{{"azp", "bob-app"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	subs := NewSubscriptions([]Subscription{{Consumer: "alice", API: "orders", Status: Approved}, {Consumer: "bob", API: "orders", Status: Pending}})
	return NewView(d, subs, reg)
}

func TestDirectoryRefusesSharedCredentials(t *testing.T) {
	tests := []struct {
		name  string
		specs []Spec
		want  string
	}{
		{"name", []Spec{{Name: "a"}, {Name: "a"}}, `consumer "a" is defined twice`},
		{"key", []Spec{{Name: "a", Keys: []KeyHash{Hash("k")}}, {Name: "b", Keys: []KeyHash{Hash("k")}}}, `consumer "b": key #1 is also a key of consumer "a"`},
		{"user", []Spec{{Name: "a", BasicUser: "u"}, {Name: "b", BasicUser: "u"}}, `consumer "b": basic username "u" is also consumer "a"'s`},
		{"claim", []Spec{{Name: "a", Claims: []Claim{{"sub", "x"}}}, {Name: "b", Claims: []Claim{{"sub", "x"}}}}, `consumer "b": jwt sub="x" also matches consumer "a"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewDirectory(tc.specs)
			if err == nil || err.Error() != tc.want {
				t.Errorf("err = %v, want %s", err, tc.want)
			}
		})
	}
}

func TestViewLookups(t *testing.T) {
	ctx := context.Background()
	reg, err := NewRegistry(ctx, &Memory{})
	if err != nil {
		t.Fatal(err)
	}
	v := fileView(t, reg)
	tests := []struct {
		name string
		got  func() string
		want string
	}{
		{"key", func() string { h := Hash("alice-key"); return cname(v.ByKey(h)) }, "alice"},
		{"unknown key", func() string { h := Hash("nope"); return cname(v.ByKey(h)) }, ""},
		{"basic", func() string { c, h := v.ByBasic("alice"); return cname(c) + string(h) }, "alice$2y$hash"},
		{"claim sub", func() string { return cname(v.ByClaims(claims{"sub": "alice@x"})) }, "alice"},
		{"claim azp", func() string { return cname(v.ByClaims(claims{"sub": "zed", "azp": "bob-app"})) }, "bob"},
		{"no claim", func() string { return cname(v.ByClaims(claims{"sub": "zed"})) }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.got(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if !v.Subscribed("alice", "orders") || v.Subscribed("bob", "orders") || v.Subscribed("alice", "other") {
		t.Error("file subscriptions: alice approved, bob pending, none to other")
	}

	// The admin API's alice hides the file's, credentials included.
	if err := reg.PutConsumer(ctx, Spec{Name: "alice", Keys: []KeyHash{Hash("alice-new")}}); err != nil {
		t.Fatal(err)
	}
	old, nw := Hash("alice-key"), Hash("alice-new")
	if v.ByKey(old) != nil || cname(v.ByKey(nw)) != "alice" {
		t.Error("the admin API's alice must replace the file's keys")
	}
	if c, _ := v.ByBasic("alice"); c != nil {
		t.Error("the file's alice login must be hidden")
	}
	if e, src := v.Get("alice"); e == nil || src != "admin" {
		t.Errorf("Get(alice) source %q", src)
	}
	entries, srcs := v.Entries()
	if len(entries) != 2 || srcs[0] != "config" || srcs[1] != "admin" || entries[0].Spec.Name != "bob" {
		t.Errorf("entries %v", srcs)
	}

	// Subscriptions: the admin API's record of a pair wins over the file's.
	if err := reg.PutSubscription(ctx, Subscription{Consumer: "bob", API: "orders", Status: Approved}); err != nil {
		t.Fatal(err)
	}
	if !v.Subscribed("bob", "orders") {
		t.Error("bob approved by the admin API")
	}
	id := SubscriptionID("alice", "orders")
	if err := reg.PutSubscription(ctx, Subscription{ID: id, Consumer: "alice", API: "orders", Status: Revoked}); err != nil {
		t.Fatal(err)
	}
	if v.Subscribed("alice", "orders") {
		t.Error("alice revoked by the admin API")
	}
	if s, ok := v.Subscription(id); !ok || s.Status != Revoked || s.Source != "admin" {
		t.Errorf("Subscription(%s) = %+v", id, s)
	}
	if n := len(v.Subscriptions()); n != 2 {
		t.Errorf("%d subscriptions, want 2 (admin records replace the file's)", n)
	}
	if err := reg.PutSubscription(ctx, Subscription{Consumer: "a", API: "b", Status: "maybe"}); err == nil {
		t.Error("a bad status must be refused")
	}

	// Deleting the admin record brings the file's alice back.
	if ok, err := reg.DeleteConsumer(ctx, "alice"); !ok || err != nil {
		t.Fatalf("delete: %v %v", ok, err)
	}
	if cname(v.ByKey(old)) != "alice" {
		t.Error("after delete the file's alice is back")
	}
}

func TestCheckRefusesAnotherFileConsumersCredential(t *testing.T) {
	v := fileView(t, nil)
	if err := v.Check(Spec{Name: "carol", Keys: []KeyHash{Hash("bob-key")}}); err == nil || !strings.Contains(err.Error(), `already consumer "bob"'s`) {
		t.Errorf("err = %v", err)
	}
	if err := v.Check(Spec{Name: "bob", Keys: []KeyHash{Hash("bob-key")}}); err != nil {
		t.Errorf("bob may keep his own key: %v", err)
	}
	if err := v.Check(Spec{Name: "carol", BasicUser: "alice"}); err == nil {
		t.Error("alice's login is taken")
	}
}

func TestRegistryRefusesSharedKey(t *testing.T) {
	ctx := context.Background()
	reg, _ := NewRegistry(ctx, &Memory{})
	if err := reg.PutConsumer(ctx, Spec{Name: "a", Keys: []KeyHash{Hash("k")}}); err != nil {
		t.Fatal(err)
	}
	if err := reg.PutConsumer(ctx, Spec{Name: "b", Keys: []KeyHash{Hash("k")}}); err == nil {
		t.Error("a key of a must not be given to b")
	}
	if err := reg.PutConsumer(ctx, Spec{Name: "a", Keys: []KeyHash{Hash("k"), Hash("k2")}}); err != nil {
		t.Errorf("replacing a with more keys: %v", err)
	}
}

func cname(c *policy.Consumer) string {
	if c == nil {
		return ""
	}
	return c.Name
}

func BenchmarkViewByKey(b *testing.B) {
	reg, _ := NewRegistry(context.Background(), &Memory{})
	d, _ := NewDirectory([]Spec{{Name: "alice", Keys: []KeyHash{Hash("alice-key-0123456789")}}})
	v := NewView(d, nil, reg)
	b.ReportAllocs()
	for b.Loop() {
		h := Hash("alice-key-0123456789")
		if v.ByKey(h) == nil {
			b.Fatal("no alice")
		}
	}
}

func BenchmarkHash(b *testing.B) {
	b.ReportAllocs()
	var sink byte
	for b.Loop() {
		h := Hash("alice-key-0123456789")
		sink += h[0]
	}
	_ = sink
}
