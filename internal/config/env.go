package config

import (
	"bytes"
	"strings"
)

// expandEnv replaces ${NAME} and ${NAME:-default} in the text of a config before it is parsed,
// so a reference works anywhere a value can be written, flow mappings and numbers included.
// ${NAME:-default} uses default when NAME is unset or empty; ${NAME} with NAME unset is an
// error; $${ is a literal "${". References inside comments are left alone, so a commented-out
// line never needs its variables. A value may not contain a line break: it would shift every
// line number after it and could change the YAML structure.
func expandEnv(data []byte, lookup func(string) (string, bool), p *problems) []byte {
	if !bytes.Contains(data, []byte("${")) {
		return data
	}
	var out bytes.Buffer
	out.Grow(len(data))
	for lineNo, rest := 1, data; len(rest) > 0; lineNo++ {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i+1], rest[i+1:]
		} else {
			rest = nil
		}
		end := commentStart(line)
		expandLine(&out, line[:end], lineNo, lookup, p)
		out.Write(line[end:])
	}
	return out.Bytes()
}

func expandLine(out *bytes.Buffer, s []byte, lineNo int, lookup func(string) (string, bool), p *problems) {
	for len(s) > 0 {
		i := bytes.IndexByte(s, '$')
		if i < 0 {
			out.Write(s)
			return
		}
		out.Write(s[:i])
		s = s[i:]
		switch {
		case bytes.HasPrefix(s, []byte("$${")):
			out.WriteString("${")
			s = s[3:]
		case bytes.HasPrefix(s, []byte("${")):
			end := bytes.IndexByte(s, '}')
			if end < 0 {
				p.add(lineNo, "unterminated ${ in %q: close it with } (write $${ for a literal ${)", strings.TrimSpace(string(s)))
				return
			}
			if ref := string(s[2:end]); knownVar(ref) {
				// A gateway variable (${consumer}, ${claim.sub}): expanded per request, not here.
				out.Write(s[:end+1])
			} else {
				out.WriteString(expandRef(ref, lineNo, lookup, p))
			}
			s = s[end+1:]
		default:
			out.WriteByte('$')
			s = s[1:]
		}
	}
}

// expandRef resolves the inside of one ${...}.
func expandRef(ref string, lineNo int, lookup func(string) (string, bool), p *problems) string {
	name, def, hasDef := strings.Cut(ref, ":-")
	if !validEnvName(name) {
		p.add(lineNo, "invalid environment variable reference ${%s}: write ${NAME} or ${NAME:-default} with NAME made of letters, digits and _", ref)
		return ""
	}
	val, ok := lookup(name)
	if hasDef && val == "" {
		val, ok = def, true
	}
	if !ok {
		p.add(lineNo, "environment variable %s is not set: set it or write ${%s:-default}", name, name)
		return ""
	}
	if strings.ContainsAny(val, "\r\n") {
		p.add(lineNo, "environment variable %s contains a line break, which a config value cannot hold: put multi-line content in a file and reference its path", name)
		return ""
	}
	return val
}

func validEnvName(s string) bool {
	if s == "" || ('0' <= s[0] && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// commentStart returns the index where a YAML comment begins on line, or len(line). A '#'
// starts a comment at the line start or after a space or tab, outside quotes. Quoted scalars
// spanning lines are not tracked; they are rare in configs and the worst outcome is that a
// reference after a '#' inside one is expanded or not.
func commentStart(line []byte) int {
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '"' && c == '\\':
			i++ // an escaped character, perhaps a quote
		case quote == '\'' && c == '\'' && i+1 < len(line) && line[i+1] == '\'':
			i++ // '' is a quote inside a single-quoted scalar
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return i
		case (c == '"' || c == '\'') && (i == 0 || strings.IndexByte(" \t[{,:-", line[i-1]) >= 0):
			quote = c
		}
	}
	return len(line)
}
