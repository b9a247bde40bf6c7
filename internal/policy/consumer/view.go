package consumer

import (
	"fmt"

	"aya/internal/policy"
)

// View is what requests look consumers up in: the config file's table with the registry's
// (the admin API's) over it. A consumer the registry holds hides the file's of the same name
// entirely, credentials included.
type View struct {
	file     *Directory
	fileSubs *Subscriptions
	reg      *Registry
}

// NewView layers reg over the file's consumers and subscriptions. reg may be nil.
func NewView(file *Directory, fileSubs *Subscriptions, reg *Registry) *View {
	if file == nil {
		file = &Directory{}
	}
	return &View{file: file, fileSubs: fileSubs, reg: reg}
}

func (v *View) live() *layer {
	if v.reg == nil {
		return nil
	}
	return v.reg.layer()
}

// fileEntry returns e when the registry does not hide it.
func (v *View) fileEntry(l *layer, e *Entry) *Entry {
	if e == nil || (l != nil && l.dir.byName[e.Spec.Name] != nil) {
		return nil
	}
	return e
}

// ByKey returns the consumer holding the API key whose hash is h, or nil.
func (v *View) ByKey(h KeyHash) *policy.Consumer {
	l := v.live()
	if l != nil {
		if e := l.dir.byKeyHash(&h); e != nil {
			return e.Consumer
		}
	}
	if e := v.fileEntry(l, v.file.byKeyHash(&h)); e != nil {
		return e.Consumer
	}
	return nil
}

// ByBasic returns the consumer whose Basic username is user and its bcrypt hash; nil when
// none.
func (v *View) ByBasic(user string) (*policy.Consumer, []byte) {
	l := v.live()
	if l != nil {
		if e := l.dir.byUser[user]; e != nil {
			return e.Consumer, e.basicHash
		}
	}
	if e := v.fileEntry(l, v.file.byUser[user]); e != nil {
		return e.Consumer, e.basicHash
	}
	return nil, nil
}

// ClaimSource gives a verified token's claims as strings.
type ClaimSource interface {
	Claim(name string) (string, bool)
}

// ByClaims returns the consumer whose jwt match the token's claims fit, or nil.
func (v *View) ByClaims(src ClaimSource) *policy.Consumer {
	l := v.live()
	if l != nil {
		if e := l.dir.byClaims(src); e != nil {
			return e.Consumer
		}
	}
	if e := v.fileEntry(l, v.file.byClaims(src)); e != nil {
		return e.Consumer
	}
	return nil
}

func (d *Directory) byClaims(src ClaimSource) *Entry {
	for _, name := range d.claims {
		if val, ok := src.Claim(name); ok {
			if e := d.byClaim[Claim{name, val}]; e != nil {
				return e
			}
		}
	}
	return nil
}

// Get returns the named consumer and where it comes from ("admin" or "config"), or nil.
func (v *View) Get(name string) (*Entry, string) {
	l := v.live()
	if l != nil {
		if e := l.dir.byName[name]; e != nil {
			return e, "admin"
		}
	}
	if e := v.file.byName[name]; e != nil {
		return e, "config"
	}
	return nil, ""
}

// InFile returns the config file's consumer of that name, hidden or not.
func (v *View) InFile(name string) *Entry { return v.file.Get(name) }

// Entries lists every consumer (the file's first, then the admin API's) with its source.
func (v *View) Entries() ([]*Entry, []string) {
	l := v.live()
	var out []*Entry
	var src []string
	for _, e := range v.file.Entries() {
		if v.fileEntry(l, e) != nil {
			out, src = append(out, e), append(src, "config")
		}
	}
	if l != nil {
		for _, e := range l.dir.Entries() {
			out, src = append(out, e), append(src, "admin")
		}
	}
	return out, src
}

// Check refuses s when one of its credentials belongs to another consumer of the file that
// the registry does not hide (the registry checks its own consumers).
func (v *View) Check(s Spec) error {
	l := v.live()
	other := func(e *Entry) bool { return v.fileEntry(l, e) != nil && e.Spec.Name != s.Name }
	for i := range s.Keys {
		if e := v.file.byKey[s.Keys[i]]; e != nil && other(e) {
			return fmt.Errorf("consumer %q: key #%d is already consumer %q's", s.Name, i+1, e.Spec.Name)
		}
	}
	if e := v.file.byUser[s.BasicUser]; s.BasicUser != "" && e != nil && other(e) {
		return fmt.Errorf("consumer %q: basic username %q is already consumer %q's", s.Name, s.BasicUser, e.Spec.Name)
	}
	for _, c := range s.Claims {
		if e := v.file.byClaim[c]; e != nil && other(e) {
			return fmt.Errorf("consumer %q: jwt %s=%q already matches consumer %q", s.Name, c.Name, c.Value, e.Spec.Name)
		}
	}
	return nil
}

// Subscribed reports whether consumer holds an approved subscription to api. The admin API's
// record of a pair wins over the file's.
func (v *View) Subscribed(consumer, api string) bool {
	if l := v.live(); l != nil {
		if s := l.subs.get(consumer, api); s != nil {
			return s.Status == Approved
		}
	}
	s := v.fileSubs.get(consumer, api)
	return s != nil && s.Status == Approved
}

// Subscription returns the subscription of that id, or false.
func (v *View) Subscription(id string) (Subscription, bool) {
	if l := v.live(); l != nil {
		if s := l.subs.byIDOf(id); s != nil {
			return *s, true
		}
	}
	if s := v.fileSubs.byIDOf(id); s != nil {
		return *s, true
	}
	return Subscription{}, false
}

// Subscriptions lists every subscription, the admin API's record of a pair replacing the
// file's.
func (v *View) Subscriptions() []Subscription {
	l := v.live()
	var out []Subscription
	for _, s := range v.fileSubs.List() {
		if l != nil && l.subs.get(s.Consumer, s.API) != nil {
			continue
		}
		out = append(out, s)
	}
	if l != nil {
		out = append(out, l.subs.List()...)
	}
	return out
}
