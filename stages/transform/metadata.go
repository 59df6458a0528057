package transform

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// B2B metadata limits (DESIGN, transform rule 4).
const (
	maxMetadataBytes = 4096
	maxMetadataKeys  = 20
)

// metaInfo is what the transform needs to know about one metadata object.
type metaInfo struct {
	// present is false for "" and JSON null.
	present bool
	// compactLen is the length of the text without insignificant white space.
	compactLen int
	// keys counts the object's top-level keys.
	keys int
}

// tooLarge reports whether the object breaks a B2B metadata limit.
func (m metaInfo) tooLarge() bool {
	return m.compactLen > maxMetadataBytes || m.keys > maxMetadataKeys
}

// errNotObject and its relatives describe metadata text the transform cannot use.
var (
	errNotObject  = errors.New("not a JSON object")
	errMalformed  = errors.New("malformed JSON")
	errBadOrgKeys = errors.New("not a string or a list of strings")
)

// scanMetadata measures a metadata object in one pass over its text: its compact length and its
// top-level key count. It checks the JSON structure (balanced brackets, terminated strings, an
// object at the top), not every literal: the extract stage wrote the text from parsed JSON.
// It does not allocate for objects nested up to 64 deep.
func scanMetadata(s string) (metaInfo, error) {
	t := strings.TrimSpace(s)
	if t == "" || t == "null" {
		return metaInfo{}, nil
	}
	if t[0] != '{' {
		return metaInfo{}, errNotObject
	}
	var (
		info = metaInfo{present: true}
		// buf holds the open brackets; stack grows past it only for deeper nesting.
		buf   [64]byte
		stack = buf[:0]
		// space counts the insignificant white space bytes.
		space int
	)
	for i := 0; i < len(t); i++ {
		switch c := t[i]; c {
		case ' ', '\t', '\n', '\r':
			space++
		case '"':
			end, ok := stringEnd(t, i)
			if !ok {
				return metaInfo{}, errMalformed
			}
			i = end - 1
		case '{', '[':
			if len(stack) == 0 && i > 0 {
				return metaInfo{}, errMalformed
			}
			stack = append(stack, c)
		case '}', ']':
			if len(stack) == 0 || (c == '}') != (stack[len(stack)-1] == '{') {
				return metaInfo{}, errMalformed
			}
			stack = stack[:len(stack)-1]
			// t ends in a character other than white space, so anything after the closing
			// bracket of the top-level object is trailing garbage.
			if len(stack) == 0 && i+1 < len(t) {
				return metaInfo{}, errMalformed
			}
		case ':':
			if len(stack) == 1 {
				info.keys++
			}
		}
	}
	if len(stack) != 0 {
		return metaInfo{}, errMalformed
	}
	info.compactLen = len(t) - space
	return info, nil
}

// stringEnd returns the index just past the JSON string starting at s[i] == '"'.
func stringEnd(s string, i int) (int, bool) {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return 0, false
}

// skipSpace returns the index of the first non-white-space byte at or after i.
func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// valueEnd returns the index just past the JSON value starting at s[i].
func valueEnd(s string, i int) (int, bool) {
	if i >= len(s) {
		return 0, false
	}
	switch s[i] {
	case '"':
		return stringEnd(s, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(s); j++ {
			switch s[j] {
			case '"':
				end, ok := stringEnd(s, j)
				if !ok {
					return 0, false
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
		}
		return 0, false
	default:
		j := i
		for j < len(s) && !strings.ContainsRune(",}] \t\n\r", rune(s[j])) {
			j++
		}
		return j, j > i
	}
}

// lookupPath returns the JSON text of the value at path in the object s, or found=false when a
// key along the path is missing (or a value along it is not an object).
func lookupPath(s string, path []string) (value string, found bool) {
	cur := strings.TrimSpace(s)
	for _, key := range path {
		v, ok := objectField(cur, key)
		if !ok {
			return "", false
		}
		cur = v
	}
	return cur, true
}

// objectField returns the JSON text of the value of key in the object s.
func objectField(s, key string) (string, bool) {
	if len(s) == 0 || s[0] != '{' {
		return "", false
	}
	i := skipSpace(s, 1)
	for i < len(s) && s[i] != '}' {
		if s[i] != '"' {
			return "", false
		}
		kEnd, ok := stringEnd(s, i)
		if !ok {
			return "", false
		}
		k := unquote(s[i:kEnd])
		i = skipSpace(s, kEnd)
		if i >= len(s) || s[i] != ':' {
			return "", false
		}
		i = skipSpace(s, i+1)
		vEnd, ok := valueEnd(s, i)
		if !ok {
			return "", false
		}
		if k == key {
			return s[i:vEnd], true
		}
		i = skipSpace(s, vEnd)
		if i < len(s) && s[i] == ',' {
			i = skipSpace(s, i+1)
		}
	}
	return "", false
}

// unquote decodes a JSON string literal; it returns "" for a malformed one.
func unquote(lit string) string {
	if len(lit) >= 2 && strings.IndexByte(lit, '\\') < 0 {
		return lit[1 : len(lit)-1]
	}
	var s string
	if err := json.Unmarshal([]byte(lit), &s); err != nil {
		return ""
	}
	return s
}

// orgKeysFromValue reads organization keys from a metadata value: a string, a number (its text),
// or a list of them. Null, empty strings and null list elements are no key; any other type is an
// error.
func orgKeysFromValue(v string, keys []string) ([]string, error) {
	v = strings.TrimSpace(v)
	if v == "" || v == "null" {
		return keys, nil
	}
	switch v[0] {
	case '"':
		if k := unquote(v); k != "" {
			keys = append(keys, k)
		}
		return keys, nil
	case '[':
		i := skipSpace(v, 1)
		for i < len(v) && v[i] != ']' {
			end, ok := valueEnd(v, i)
			if !ok {
				return keys, errMalformed
			}
			elem := v[i:end]
			switch {
			case elem == "null":
			case elem[0] == '"':
				if k := unquote(elem); k != "" {
					keys = append(keys, k)
				}
			case isNumber(elem):
				keys = append(keys, elem)
			default:
				return keys, fmt.Errorf("list element %s: %w", elem, errBadOrgKeys)
			}
			i = skipSpace(v, end)
			if i < len(v) && v[i] == ',' {
				i = skipSpace(v, i+1)
			}
		}
		return keys, nil
	default:
		if isNumber(v) {
			return append(keys, v), nil
		}
		return keys, errBadOrgKeys
	}
}

// scalarFromValue reads a string or number metadata value as text; absent and null read as "".
func scalarFromValue(v string) (string, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "" || v == "null":
		return "", nil
	case v[0] == '"':
		return unquote(v), nil
	case isNumber(v):
		return v, nil
	default:
		return "", errors.New("not a string or a number")
	}
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	c := s[0]
	return c == '-' || ('0' <= c && c <= '9')
}
