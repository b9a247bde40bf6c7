package llm

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Scanner reads small JSON documents of a known shape without reflection, for the codecs'
// hot paths (a stream carries one small object per token, and encoding/json spends most of
// its time there on reflection and on a validating pre-pass). It accepts only what
// encoding/json would decode the same way: every method reports false on anything else —
// malformed JSON, an unexpected type, invalid UTF-8 — and the caller then decodes the
// document with encoding/json, so results and errors stay encoding/json's.
type Scanner struct {
	b []byte
	i int
}

// NewScanner reads b; the strings it returns are copies.
func NewScanner(b []byte) Scanner { return Scanner{b: b} }

func (s *Scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, 0 at the end.
func (s *Scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// End reports whether only white space is left.
func (s *Scanner) End() bool { return s.peek() == 0 && s.i == len(s.b) }

// Null consumes a null and reports whether there was one.
func (s *Scanner) Null() bool {
	if s.peek() == 'n' && len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "null" {
		s.i += 4
		return true
	}
	return false
}

// Object calls field for each member, with the key (valid only during the call) and the
// scanner at the value, which field must consume; field returns false to give up.
func (s *Scanner) Object(field func(key []byte) bool) bool {
	if s.peek() != '{' {
		return false
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		key, ok := s.rawKey()
		if !ok || s.peek() != ':' {
			return false
		}
		s.i++
		if !field(key) {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// rawKey reads an object key without escapes (encoding/json matches keys case-insensitively,
// so a caller that finds no exact match must still give up on a key that folds to one).
func (s *Scanner) rawKey() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			return s.b[start:j], true
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			return nil, false
		}
	}
	return nil, false
}

// Array calls elem for each element, with the scanner at it; elem must consume it.
func (s *Scanner) Array(elem func() bool) bool {
	if s.peek() != '[' {
		return false
	}
	s.i++
	if s.peek() == ']' {
		s.i++
		return true
	}
	for {
		if !elem() {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return true
		default:
			return false
		}
	}
}

// String reads a string value.
func (s *Scanner) String() (string, bool) {
	if s.peek() != '"' {
		return "", false
	}
	start := s.i + 1
	ascii := true
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			raw := s.b[start:j]
			if !ascii && !utf8.Valid(raw) {
				return "", false // encoding/json would replace the bad bytes
			}
			s.i = j + 1
			return string(raw), true
		case c == '\\':
			return s.escaped(start)
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// escaped reads a string holding escapes, from start (after the opening quote).
func (s *Scanner) escaped(start int) (string, bool) {
	out := make([]byte, 0, 64)
	for j := start; j < len(s.b); {
		c := s.b[j]
		switch {
		case c == '"':
			if !utf8.Valid(out) {
				return "", false
			}
			s.i = j + 1
			return string(out), true
		case c < 0x20:
			return "", false
		case c != '\\':
			out = append(out, c)
			j++
			continue
		}
		if j+1 >= len(s.b) {
			return "", false
		}
		switch e := s.b[j+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, n := s.unicode(j)
			if n == 0 {
				return "", false
			}
			out = utf8.AppendRune(out, r)
			j += n
			continue
		default:
			return "", false
		}
		j += 2
	}
	return "", false
}

// unicode decodes the \uXXXX escape at j (a surrogate pair as one rune, a lone surrogate as
// U+FFFD, as encoding/json does) and returns the bytes it took; 0 for a malformed escape.
func (s *Scanner) unicode(j int) (rune, int) {
	r := hex4(s.b, j+2)
	if r < 0 {
		return 0, 0
	}
	if !utf16.IsSurrogate(r) {
		return r, 6
	}
	if j+12 <= len(s.b) && s.b[j+6] == '\\' && s.b[j+7] == 'u' {
		if r2 := hex4(s.b, j+8); r2 >= 0 {
			if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
				return d, 12
			}
		}
	}
	return utf8.RuneError, 6
}

func hex4(b []byte, at int) rune {
	if at+4 > len(b) {
		return -1
	}
	var r rune
	for _, c := range b[at : at+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// Int reads an integer value (no fraction or exponent: encoding/json refuses those for an int).
func (s *Scanner) Int() (int, bool) {
	s.ws()
	j := s.i
	if j < len(s.b) && s.b[j] == '-' {
		j++
	}
	digits := j
	for j < len(s.b) && '0' <= s.b[j] && s.b[j] <= '9' {
		j++
	}
	if j == digits || s.b[digits] == '0' && j-digits > 1 {
		return 0, false
	}
	if j < len(s.b) {
		switch s.b[j] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	n, err := strconv.Atoi(string(s.b[s.i:j]))
	if err != nil {
		return 0, false
	}
	s.i = j
	return n, true
}

// Skip consumes any value.
func (s *Scanner) Skip() bool {
	switch c := s.peek(); {
	case c == '{':
		return s.Object(func([]byte) bool { return s.Skip() })
	case c == '[':
		return s.Array(s.Skip)
	case c == '"':
		_, ok := s.String()
		return ok
	case c == 'n':
		return s.Null()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	}
	return false
}

func (s *Scanner) literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// number consumes a JSON number, checking its grammar.
func (s *Scanner) number() bool {
	j := s.i
	if s.b[j] == '-' {
		j++
	}
	digits := func() int {
		k := j
		for j < len(s.b) && '0' <= s.b[j] && s.b[j] <= '9' {
			j++
		}
		return j - k
	}
	start := j
	n := digits()
	if n == 0 || n > 1 && s.b[start] == '0' {
		return false
	}
	if j < len(s.b) && s.b[j] == '.' {
		j++
		if digits() == 0 {
			return false
		}
	}
	if j < len(s.b) && (s.b[j] == 'e' || s.b[j] == 'E') {
		j++
		if j < len(s.b) && (s.b[j] == '+' || s.b[j] == '-') {
			j++
		}
		if digits() == 0 {
			return false
		}
	}
	s.i = j
	return true
}

// AppendJSONString appends s as a JSON string exactly as encoding/json writes it (HTML
// characters, U+2028 and U+2029 escaped, invalid UTF-8 replaced). Text made of plain
// printable ASCII — most of it — is copied as is; anything else goes through encoding/json.
func AppendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c >= utf8.RuneSelf, c == '"', c == '\\', c == '<', c == '>', c == '&':
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// Raw consumes any value and returns its bytes (valid as long as the scanned document).
func (s *Scanner) Raw() ([]byte, bool) {
	s.ws()
	start := s.i
	if !s.Skip() {
		return nil, false
	}
	return s.b[start:s.i], true
}

// Float reads a number as encoding/json reads one into a float64.
func (s *Scanner) Float() (float64, bool) {
	s.ws()
	start := s.i
	if c := s.peek(); !(c == '-' || '0' <= c && c <= '9') || !s.number() {
		s.i = start
		return 0, false
	}
	f, err := strconv.ParseFloat(string(s.b[start:s.i]), 64)
	if err != nil {
		s.i = start
		return 0, false
	}
	return f, true
}

// Bool reads true or false.
func (s *Scanner) Bool() (bool, bool) {
	switch s.peek() {
	case 't':
		ok := s.literal("true")
		return ok, ok
	case 'f':
		return false, s.literal("false")
	}
	return false, false
}

// OptString reads a string into *dst; null leaves *dst as it is, as encoding/json does.
func (s *Scanner) OptString(dst *string) bool {
	if s.Null() {
		return true
	}
	v, ok := s.String()
	*dst = v
	return ok
}

// FoldsTo reports whether key matches one of names only case-insensitively: encoding/json would
// take it for that field, so a scanner path must leave the document to encoding/json.
func FoldsTo(key []byte, names ...string) bool {
	for _, n := range names {
		if len(key) == len(n) && bytes.EqualFold(key, []byte(n)) {
			return true
		}
	}
	return false
}
