package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"aya/internal/policy"
)

// dummyHash is compared against when the username is unknown, so that an unknown user costs
// as much time as a wrong password and usernames cannot be probed by timing. (bcrypt of a
// password nobody uses, cost 10.)
const dummyHash = "$2a$10$UbQfGkhaOd1D5pVacSaGOuZjyYA7yD6NG8HkKgGJ7oOR4AM61w1aG"

const (
	// verifiedTTL bounds how long a checked login skips bcrypt; a password change applies to
	// cached logins at once anyway (the hash is part of the cache key).
	verifiedTTL = 5 * time.Minute
	// maxVerified bounds the cache; it is emptied when full.
	maxVerified = 10000
)

// basicChecker verifies logins. bcrypt costs tens of milliseconds by design, so a login that
// verified once is remembered for a while by an HMAC of (user, hash, password) under a key
// that lives only in this process: the cache holds no password and nothing usable offline.
type basicChecker struct {
	key      []byte
	mu       sync.Mutex
	verified map[[sha256.Size]byte]time.Time
}

func newBasicChecker() (*basicChecker, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("basic auth: random key: %w", err)
	}
	return &basicChecker{key: key, verified: map[[sha256.Size]byte]time.Time{}}, nil
}

func (a *authn) checkBasic(cred string, st *policy.State) (outcome, string) {
	var buf [512]byte
	if base64.StdEncoding.DecodedLen(len(cred)) > len(buf) {
		return invalid, "invalid Basic credentials"
	}
	n, err := base64.StdEncoding.Decode(buf[:], []byte(cred))
	if err != nil {
		return invalid, "invalid Basic credentials"
	}
	user, pass, found := strings.Cut(string(buf[:n]), ":")
	if !found {
		return invalid, "invalid Basic credentials"
	}
	c, hash := a.o.Consumers.ByBasic(user)
	if c == nil {
		bcrypt.CompareHashAndPassword([]byte(dummyHash), []byte(pass))
		return invalid, "invalid Basic credentials"
	}
	if !a.basic.verify(user, hash, pass) {
		return invalid, "invalid Basic credentials"
	}
	st.Consumer, st.Credential = c, CredBasic
	return ok, ""
}

func (b *basicChecker) verify(user string, hash []byte, pass string) bool {
	m := hmac.New(sha256.New, b.key)
	m.Write([]byte(user))
	m.Write([]byte{0})
	m.Write(hash)
	m.Write([]byte{0})
	m.Write([]byte(pass))
	var k [sha256.Size]byte
	m.Sum(k[:0])
	now := time.Now()
	b.mu.Lock()
	exp, hit := b.verified[k]
	b.mu.Unlock()
	if hit && now.Before(exp) {
		return true
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(pass)) != nil {
		return false
	}
	b.mu.Lock()
	if len(b.verified) >= maxVerified {
		clear(b.verified)
	}
	b.verified[k] = now.Add(verifiedTTL)
	b.mu.Unlock()
	return true
}
