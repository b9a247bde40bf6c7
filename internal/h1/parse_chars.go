package h1

import (
	"encoding/binary"
	"unsafe"
)

// Byte classes from RFC 9110 §5.6.2 (token) and §5.5 (field values). Tables, not switch
// statements, because the parser tests every byte of every request head against them.

// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" /
// "~" / DIGIT / ALPHA
var isTokenByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// field-vchar / SP / HTAB, plus obs-text (0x80-0xFF), which RFC 9110 lets recipients accept
// and which net/http accepts. Every other control byte (CR, LF, NUL, DEL, ...) is refused,
// because a CR or LF smuggled into a value is how header injection starts.
var isValueByte = func() (t [256]bool) {
	for c := 0x21; c <= 0x7e; c++ {
		t[c] = true
	}
	for c := 0x80; c <= 0xff; c++ {
		t[c] = true
	}
	t[' '] = true
	t['\t'] = true
	return t
}()

// Request-target bytes: visible ASCII except "#". Raw spaces, controls and non-ASCII bytes
// must be percent-encoded, and a fragment is never sent (RFC 9112 §3.2).
var isTargetByte = func() (t [256]bool) {
	for c := 0x21; c <= 0x7e; c++ {
		t[c] = c != '#'
	}
	return t
}()

// valueEnd returns the index of the first byte of s that may not appear in a field value
// (normally the CR that ends the line), or len(s). Values are most of a request head, so it
// tests eight bytes at a time and looks at single bytes only in a word that holds a control
// byte (the CR, or a legitimate HTAB).
func valueEnd(s []byte) int {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := binary.LittleEndian.Uint64(s[i:])
		// A byte below 0x20, or equal to 0x7f (DEL): the classic "has less than" and
		// "has zero" word tricks; bytes >= 0x80 (obs-text) never match.
		below := (x - 0x20*ones) &^ x & high
		del := x ^ 0x7f*ones
		del = (del - ones) &^ del & high
		if below|del != 0 {
			for k := i; k < i+8; k++ {
				if !isValueByte[s[k]] {
					return k
				}
			}
		}
	}
	for ; i < len(s); i++ {
		if !isValueByte[s[i]] {
			return i
		}
	}
	return len(s)
}

// validValue reports whether every byte of s may appear in a field value.
func validValue(s []byte) bool { return valueEnd(s) == len(s) }

// validTokenString and validValueString are the string forms, used when validating what a
// handler asks us to send, so that a handler bug cannot inject a header line.
func validTokenString(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenByte[s[i]] {
			return false
		}
	}
	return true
}

func validValueString(s string) bool {
	return valueEnd(unsafe.Slice(unsafe.StringData(s), len(s))) == len(s)
}

// trimOWS strips optional whitespace (SP / HTAB) from both ends.
func trimOWS(s []byte) []byte {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
