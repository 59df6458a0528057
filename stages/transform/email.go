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
func normalizeEmail(raw string) (email string, ok bool, detail string) {
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
	if len(s) > maxEmailBytes {
		return "longer than 254 bytes"
	}
	at := strings.IndexByte(s, '@')
	if at < 0 || strings.IndexByte(s[at+1:], '@') >= 0 {
		return "not exactly one @"
	}
	local, domain := s[:at], s[at+1:]
	if len(local) == 0 || len(local) > maxLocalBytes {
		return "local part not 1-64 bytes"
	}
	if strings.IndexByte(domain, '.') < 0 {
		return "domain has no dot"
	}
	for label := range strings.SplitSeq(domain, ".") {
		if label == "" {
			return "domain has an empty label"
		}
	}
	for _, r := range s {
		if isWhiteSpace(r) || unicode.Is(unicode.Cc, r) {
			return "contains white space or a control character"
		}
	}
	return ""
}

// isWhiteSpace reports whether r has the Unicode White_Space property.
func isWhiteSpace(r rune) bool { return unicode.Is(unicode.White_Space, r) }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// lowerASCII lower-cases an ASCII string, allocating only when something changes.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// emailDomain returns the part after the @ of a valid normalized address.
func emailDomain(email string) string { return email[strings.LastIndexByte(email, '@')+1:] }

// memberName joins the trimmed, non-empty name parts with single spaces (DESIGN rule 8).
func memberName(first, middle, last string) string {
	var b strings.Builder
	for _, p := range [...]string{first, middle, last} {
		p = strings.TrimFunc(p, isWhiteSpace)
		if p == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(p)
	}
	return b.String()
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
func validExternalID(s string) bool {
	if len(s) == 0 || len(s) > maxExternalID {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIDChar(s[i]) {
			return false
		}
	}
	return true
}

// validOrgKey reports whether s can be an organization_external_id: 1-128 characters of
// [A-Za-z0-9._|-].
func validOrgKey(s string) bool {
	if len(s) == 0 || len(s) > maxExternalID {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIDChar(s[i]) && s[i] != '|' {
			return false
		}
	}
	return true
}

// maxExternalID is the longest member or organization external id.
const maxExternalID = 128

func isIDChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}
