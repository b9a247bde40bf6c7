package consumer

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"

	"aya/internal/policy"
)

// KeyHash is the SHA-256 of an API key: all aya keeps of a key.
type KeyHash [sha256.Size]byte

// Hash returns the key's hash without allocating.
func Hash(key string) KeyHash {
	// The copy into a stack buffer keeps short keys (every real one) off the heap: sha256.Sum256
	// takes a []byte, and converting a longer string would allocate.
	var buf [128]byte
	if len(key) <= len(buf) {
		n := copy(buf[:], key)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(key))
}

// Spec is one consumer with its credentials, as the config or the admin API gives it.
type Spec struct {
	Name     string
	Tenant   string
	Groups   []string
	Metadata map[string]string
	Keys     []KeyHash
	// BasicUser and BasicHash are the consumer's HTTP Basic login (bcrypt hash).
	BasicUser string
	BasicHash string
	// Claims match verified tokens to the consumer (claim name → value).
	Claims []Claim
}

// Claim is a claim name and the value a token must carry in it.
type Claim struct{ Name, Value string }

// Entry is a consumer in a Directory.
type Entry struct {
	Consumer  *policy.Consumer
	Spec      Spec
	basicHash []byte
}

// Directory is an immutable table of consumers with indexes by every credential.
type Directory struct {
	byName  map[string]*Entry
	byKey   map[KeyHash]*Entry
	byUser  map[string]*Entry
	byClaim map[Claim]*Entry
	claims  []string // distinct claim names of byClaim
	order   []string // names in the order given
}

// NewDirectory indexes specs. A name, key, login or claim match held by two consumers is an
// error: a credential must name one caller.
func NewDirectory(specs []Spec) (*Directory, error) {
	d := &Directory{
		byName:  make(map[string]*Entry, len(specs)),
		byKey:   make(map[KeyHash]*Entry),
		byUser:  make(map[string]*Entry),
		byClaim: make(map[Claim]*Entry),
	}
	for _, s := range specs {
		if err := d.add(s); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (d *Directory) add(s Spec) error {
	if _, dup := d.byName[s.Name]; dup {
		return fmt.Errorf("consumer %q is defined twice", s.Name)
	}
	e := &Entry{
		Consumer:  &policy.Consumer{Name: s.Name, Tenant: s.Tenant, Groups: s.Groups, Metadata: s.Metadata},
		Spec:      s,
		basicHash: []byte(s.BasicHash),
	}
	for i, k := range s.Keys {
		if other, dup := d.byKey[k]; dup {
			return fmt.Errorf("consumer %q: key #%d is also a key of consumer %q", s.Name, i+1, other.Spec.Name)
		}
		d.byKey[k] = e
	}
	if s.BasicUser != "" {
		if other, dup := d.byUser[s.BasicUser]; dup {
			return fmt.Errorf("consumer %q: basic username %q is also consumer %q's", s.Name, s.BasicUser, other.Spec.Name)
		}
		d.byUser[s.BasicUser] = e
	}
	for _, c := range s.Claims {
		if other, dup := d.byClaim[c]; dup {
			return fmt.Errorf("consumer %q: jwt %s=%q also matches consumer %q", s.Name, c.Name, c.Value, other.Spec.Name)
		}
		d.byClaim[c] = e
		if !contains(d.claims, c.Name) {
			d.claims = append(d.claims, c.Name)
		}
	}
	d.byName[s.Name] = e
	d.order = append(d.order, s.Name)
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Get returns the named consumer's entry, or nil.
func (d *Directory) Get(name string) *Entry {
	if d == nil {
		return nil
	}
	return d.byName[name]
}

// Entries lists the consumers in the order they were given.
func (d *Directory) Entries() []*Entry {
	if d == nil {
		return nil
	}
	out := make([]*Entry, len(d.order))
	for i, n := range d.order {
		out[i] = d.byName[n]
	}
	return out
}

func (d *Directory) byKeyHash(h *KeyHash) *Entry {
	if d == nil {
		return nil
	}
	e := d.byKey[*h]
	if e == nil {
		return nil
	}
	// The map found the entry by the hash already; comparing again in constant time states
	// that no byte-by-byte early exit on a secret-derived value decides the outcome.
	for i := range e.Spec.Keys {
		if subtle.ConstantTimeCompare(e.Spec.Keys[i][:], h[:]) == 1 {
			return e
		}
	}
	return nil
}
