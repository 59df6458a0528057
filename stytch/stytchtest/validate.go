package stytchtest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits the emulator enforces, from the wire reference.
const (
	// MaxExternalIDLength bounds member and organization external ids.
	MaxExternalIDLength = 128
	// MinSlugLength and MaxSlugLength bound organization slugs.
	MinSlugLength = 2
	MaxSlugLength = 128
	// MaxOrganizationNameLength bounds organization names (in characters).
	MaxOrganizationNameLength = 128
	// MaxMetadataBytes bounds a metadata object in compact JSON.
	MaxMetadataBytes = 4096
	// MaxMetadataKeys bounds a metadata object's top-level keys.
	MaxMetadataKeys = 20
	// maxEmailBytes bounds an email address.
	maxEmailBytes = 254
	// maxLocalPartBytes bounds the part of an email before "@".
	maxLocalPartBytes = 64
)

// Error types the emulator answers for validation failures whose real type Stytch does not
// document. They are UNCONFIRMED; the client classifies them as permanent (400).
const (
	// ErrorTypeInvalidExternalID is answered for an external id with a character outside
	// [A-Za-z0-9._|-] or longer than 128 characters (UNCONFIRMED).
	ErrorTypeInvalidExternalID = "invalid_external_id"
	// ErrorTypeBadRequest is answered for a body that is not valid JSON (UNCONFIRMED).
	ErrorTypeBadRequest = "bad_request"
)

// apiErr is an error answer before the request id is filled in.
type apiErr struct {
	status  int
	typ     string
	message string
}

func badRequest(typ, message string) *apiErr {
	return &apiErr{status: http.StatusBadRequest, typ: typ, message: message}
}

// validEmail applies the emulator's email syntax: exactly one "@", a local part of 1–64 bytes,
// a domain with a dot and no empty label, no whitespace or control character, at most 254 bytes.
func validEmail(s string) bool {
	if len(s) == 0 || len(s) > maxEmailBytes || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
	}
	at := strings.IndexByte(s, '@')
	if at < 0 || strings.Count(s, "@") != 1 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	if len(local) < 1 || len(local) > maxLocalPartBytes || !strings.Contains(domain, ".") {
		return false
	}
	for label := range strings.SplitSeq(domain, ".") {
		if label == "" {
			return false
		}
	}
	return true
}

// validExternalID accepts 1–128 characters of [A-Za-z0-9._|-]. The pipe is allowed as the SDK
// docstrings say; the transform stage is stricter (no pipe), so everything it produces passes.
func validExternalID(s string) bool {
	if len(s) == 0 || len(s) > MaxExternalIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '.' && c != '_' && c != '-' && c != '|' {
			return false
		}
	}
	return true
}

// validSlug accepts 2–128 characters of alphanumerics and "-._~" with at least one alphanumeric.
func validSlug(s string) bool {
	if len(s) < MinSlugLength || len(s) > MaxSlugLength {
		return false
	}
	alnum := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isAlnum(c):
			alnum = true
		case c == '-' || c == '.' || c == '_' || c == '~':
		default:
			return false
		}
	}
	return alnum
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// validE164 accepts "+" followed by 2–15 digits, the first not 0.
func validE164(s string) bool {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// checkMetadata validates a metadata object and returns it compacted ("{}" when absent): a JSON
// object of at most 4,096 bytes in compact form and at most 20 top-level keys.
func checkMetadata(field string, raw json.RawMessage) (json.RawMessage, *apiErr) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return json.RawMessage("{}"), nil
	}
	var keys map[string]json.RawMessage
	if trimmed[0] != '{' || json.Unmarshal(trimmed, &keys) != nil {
		return nil, badRequest("metadata_invalid_format", field+" must be a JSON object.")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, trimmed); err != nil {
		return nil, badRequest("metadata_invalid_format", field+" must be a JSON object.")
	}
	if buf.Len() > MaxMetadataBytes {
		return nil, badRequest("metadata_too_large", field+" must be at most 4KB.")
	}
	if len(keys) > MaxMetadataKeys {
		return nil, badRequest("metadata_too_many_keys", field+" may have at most 20 top-level keys.")
	}
	return json.RawMessage(buf.Bytes()), nil
}

// normalizeEmail is the key emails are compared by: case-insensitive.
func normalizeEmail(s string) string { return strings.ToLower(s) }
