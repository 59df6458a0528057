package transform

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// Email limits of the contract (DESIGN, transform rule 2).
const (
	maxEmailBytes = 254
	maxLocalBytes = 64
)

// primaryEmail returns the index of the user's primary email: the first verified entry, else
// the first one; -1 when the user has no email.
func primaryEmail(emails []schemas.Email) int {
	if len(emails) == 0 {
		return -1
	}
	for i, e := range emails {
		if e.Verified {
			return i
		}
	}
	return 0
}

// normalizeEmail trims Unicode white space, applies NFC and lower-cases the address, and reports
// whether the result is a valid B2B email address (DESIGN rule 2). The detail says why not.
//
// An all-ASCII address, the usual case, takes a few quick passes over its bytes: NFC leaves ASCII
// unchanged, strings.ToLower lowers ASCII letters only, and the ASCII White_Space and Cc characters
// are known. An address that is already normalized comes back as the same string, unallocated.
func normalizeEmail(raw string) (email string, ok bool, detail string) {
	i, j := 0, len(raw)
	for i < j && asciiSpace(raw[i]) {
		i++
	}
	for j > i && asciiSpace(raw[j-1]) {
		j--
	}
	s := raw[i:j]
	var high, banned byte
	for k := 0; k < len(s); k++ {
		c := s[k]
		high |= c
		if asciiBanned(c) {
			banned = 1
		}
	}
	if high >= utf8.RuneSelf {
		return normalizeUnicodeEmail(raw)
	}
	s = lowerASCII(s)
	at, ats := findAt(s)
	if detail := addressProblem(s, at, ats, banned != 0); detail != "" {
		return s, false, detail
	}
	return s, true, ""
}

// normalizeUnicodeEmail is normalizeEmail for an address with a byte outside ASCII.
func normalizeUnicodeEmail(raw string) (email string, ok bool, detail string) {
	if !utf8.ValidString(raw) {
		return raw, false, "not valid UTF-8"
	}
	s := strings.TrimFunc(raw, isWhiteSpace)
	if isASCII(s) {
		s = lowerASCII(s)
	} else {
		s = strings.ToLower(norm.NFC.String(s))
	}
	if detail := emailProblem(s); detail != "" {
		return s, false, detail
	}
	return s, true, ""
}

// emailProblem returns why a normalized address is invalid, or "" when it is valid.
func emailProblem(s string) string {
	at, ats := findAt(s)
	banned := false
	for k := 0; k < len(s) && !banned; {
		if c := s[k]; c < utf8.RuneSelf {
			banned = asciiBanned(c)
			k++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[k:])
		banned = isWhiteSpace(r) || unicode.Is(unicode.Cc, r)
		k += size
	}
	return addressProblem(s, at, ats, banned)
}

// findAt returns the index of the first @ in s (-1 if none) and the number of @: 0, 1, or 2
// for two or more.
func findAt(s string) (at, ats int) {
	at = strings.IndexByte(s, '@')
	switch {
	case at < 0:
		return at, 0
	case strings.IndexByte(s[at+1:], '@') < 0:
		return at, 1
	default:
		return at, 2
	}
}

// addressProblem returns why the normalized address s is invalid, or "" when it is valid,
// given the index of its first @, its number of @ and whether it holds a White_Space or Cc
// character (ats is 2 for two or more). The checks run in a fixed order, so an address always
// gets the same reason.
func addressProblem(s string, at, ats int, banned bool) string {
	if len(s) > maxEmailBytes {
		return "longer than 254 bytes"
	}
	if ats != 1 {
		return "not exactly one @"
	}
	if at == 0 || at > maxLocalBytes {
		return "local part not 1-64 bytes"
	}
	domain := s[at+1:]
	if strings.IndexByte(domain, '.') < 0 {
		return "domain has no dot"
	}
	if domain[0] == '.' || domain[len(domain)-1] == '.' || strings.Contains(domain, "..") {
		return "domain has an empty label"
	}
	if banned {
		return "contains white space or a control character"
	}
	return ""
}

// isWhiteSpace reports whether r has the Unicode White_Space property.
func isWhiteSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiSpace(byte(r))
	}
	return unicode.Is(unicode.White_Space, r)
}

// asciiSpace reports whether the ASCII character c has the White_Space property: tab, line
// feed, vertical tab, form feed, carriage return or space.
func asciiSpace(c byte) bool { return c == ' ' || '\t' <= c && c <= '\r' }

// asciiBanned reports whether the ASCII character c may not appear in an email address: it has
// the White_Space property or is in category Cc (0x00-0x1F and 0x7F).
func asciiBanned(c byte) bool { return c <= ' ' || c == 0x7f }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// lowerASCII lower-cases an ASCII string, allocating once and only when something changes.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			var b strings.Builder
			b.Grow(len(s))
			b.WriteString(s[:i])
			for ; i < len(s); i++ {
				c := s[i]
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				b.WriteByte(c)
			}
			return b.String()
		}
	}
	return s
}

// emailDomain returns the part after the @ of a valid normalized address.
func emailDomain(email string) string { return email[strings.LastIndexByte(email, '@')+1:] }

// appendMemberName appends the trimmed, non-empty name parts to dst, joined with single spaces
// (DESIGN rule 8).
func appendMemberName(dst []byte, first, middle, last string) []byte {
	start := len(dst)
	for _, p := range [...]string{first, middle, last} {
		if p == "" {
			continue
		}
		// Most names have no white space at either end: trim only when an end byte may be some.
		if c, d := p[0], p[len(p)-1]; c <= ' ' || c >= utf8.RuneSelf || d <= ' ' || d >= utf8.RuneSelf {
			if p = strings.TrimFunc(p, isWhiteSpace); p == "" {
				continue
			}
		}
		if len(dst) > start {
			dst = append(dst, ' ')
		}
		dst = append(dst, p...)
	}
	return dst
}

// validE164 reports whether s is a phone number in E.164 form: "+", a non-zero digit, then
// 1 to 14 more digits.
func validE164(s string) bool {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9' {
		return false
	}
	for i := 2; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validExternalID reports whether s is a valid member external id: 1-128 characters of
// [A-Za-z0-9._-].
func validExternalID(s string) bool { return idCharsOnly(s, externalIDChar) }

// validOrgKey reports whether s can be an organization_external_id: 1-128 characters of
// [A-Za-z0-9._|-].
func validOrgKey(s string) bool { return idCharsOnly(s, orgKeyChar) }

// idCharsOnly reports whether s has 1-128 bytes, each of the class bit in idChars. It reads every
// byte without a branch on it: in random ids (hex digits) whether the next byte is a letter or
// a digit is a coin toss, and mispredicted branches were most of the cost.
func idCharsOnly(s string, bit uint8) bool {
	if len(s) == 0 || len(s) > maxExternalID {
		return false
	}
	acc := bit
	for i := 0; i < len(s); i++ {
		acc &= idChars[s[i]]
	}
	return acc != 0
}

// Classes of idChars.
const (
	externalIDChar = 1 << iota
	orgKeyChar
)

// idChars holds the classes of every byte: [A-Za-z0-9._-] are both, '|' is orgKeyChar only. It
// is never changed.
var idChars = func() (t [256]uint8) {
	for c := range t {
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-':
			t[c] = externalIDChar | orgKeyChar
		case c == '|':
			t[c] = orgKeyChar
		}
	}
	return t
}()

// maxExternalID is the longest member or organization external id.
const maxExternalID = 128
