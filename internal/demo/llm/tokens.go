package llmdemo

import (
	"unicode"
	"unicode/utf8"
)

// CountTokens counts tokens the way every local provider does: each run of letters or digits
// is one token, and so is every other character that is not white space. Prompt usage is the
// sum over every text in the request, so a gateway test can predict it exactly.
func CountTokens(s string) int {
	n := 0
	inWord := false
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if !inWord {
				n++
			}
			inWord = true
		case unicode.IsSpace(r):
			inWord = false
		default:
			n++
			inWord = false
		}
	}
	return n
}

// splitTokens cuts s into CountTokens(s) pieces, each one token with the white space before
// it, so that the pieces joined give s back; streams send one piece per delta. Trailing white
// space joins the last piece.
func splitTokens(s string) []string {
	var out []string
	start := 0
	inWord := false
	seenToken := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		word := unicode.IsLetter(r) || unicode.IsDigit(r)
		space := unicode.IsSpace(r)
		// A token begins at a non-space rune unless it continues a word.
		if !space && !(word && inWord) {
			if seenToken {
				// The previous piece ends where this token's leading white space begins.
				cut := i
				for cut > start {
					pr, ps := utf8.DecodeLastRuneInString(s[:cut])
					if !unicode.IsSpace(pr) {
						break
					}
					cut -= ps
				}
				out = append(out, s[start:cut])
				start = cut
			}
			seenToken = true
		}
		inWord = word
		i += size
	}
	if seenToken {
		out = append(out, s[start:])
	}
	return out
}
