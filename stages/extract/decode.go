package extract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"
	"unsafe"

	"github.com/stytch-migrate/stytch-migrate/schemas"
	"github.com/stytch-migrate/stytch-migrate/stytch"
)

// Wire types: the JSON shape of Stytch's User object (stytch-api.md §2.3). The nested values use
// the client's types (package stytch), which have exactly the fields of their schemas
// counterparts, so a value converts with a plain type conversion (struct tags do not count). The
// user itself is decoded here with strings for times and raw metadata, so that errors name the
// field and metadata keeps its source text.
type (
	wireUser struct {
		UserID                 string                         `json:"user_id"`
		ExternalID             string                         `json:"external_id"`
		Status                 string                         `json:"status"`
		CreatedAt              string                         `json:"created_at"`
		Name                   *stytch.UserName               `json:"name"`
		Emails                 []stytch.UserEmail             `json:"emails"`
		PhoneNumbers           []stytch.UserPhoneNumber       `json:"phone_numbers"`
		Providers              []stytch.OAuthProvider         `json:"providers"`
		WebAuthnRegistrations  []stytch.WebAuthnRegistration  `json:"webauthn_registrations"`
		BiometricRegistrations []stytch.BiometricRegistration `json:"biometric_registrations"`
		TOTPs                  []stytch.TOTP                  `json:"totps"`
		CryptoWallets          []stytch.CryptoWallet          `json:"crypto_wallets"`
		Password               *stytch.UserPassword           `json:"password"`
		Roles                  []string                       `json:"roles"`
		IsLocked               bool                           `json:"is_locked"`
		LockCreatedAt          string                         `json:"lock_created_at"`
		LockExpiresAt          string                         `json:"lock_expires_at"`
		TrustedMetadata        json.RawMessage                `json:"trusted_metadata"`
		UntrustedMetadata      json.RawMessage                `json:"untrusted_metadata"`
	}
)

// Status values of a Consumer user.
const (
	statusActive  = "active"
	statusPending = "pending"
)

// decodeError is a malformed record found while decoding, before it is placed in its source.
type decodeError struct {
	field string
	msg   string
	// offset is the byte offset of the fault within the record's JSON text, or -1.
	offset int64
}

// decoder turns one record's text into a schemas.User. It keeps scratch buffers, so each worker
// goroutine owns one.
type decoder struct {
	compact bytes.Buffer
	fast    fastScratch
}

// decodeJSON decodes one User object: on the fast path (fastJSON) when it takes the record, else
// with encoding/json (decodeJSONSlow), which also gives every error. The fast path's strings view
// raw's bytes without a copy: the caller must not change raw while it uses u. Both callers hand
// u to the checker, whose writers copy what they keep, before raw's buffer is reused.
func (d *decoder) decodeJSON(raw []byte, u *schemas.User) *decodeError {
	if d.fastJSON(unsafe.String(unsafe.SliceData(raw), len(raw)), u) {
		return nil
	}
	return d.decodeJSONSlow(raw, u)
}

// decodeJSONSlow decodes one User object with encoding/json. u is overwritten entirely.
func (d *decoder) decodeJSONSlow(raw []byte, u *schemas.User) *decodeError {
	*u = schemas.User{}
	var w wireUser
	if err := json.Unmarshal(raw, &w); err != nil {
		return jsonError(err, "")
	}
	return d.finish(&w, u)
}

// jsonError turns an encoding/json error into a decodeError; prefix names the field the JSON
// text belongs to ("" for a whole record).
func jsonError(err error, prefix string) *decodeError {
	join := func(field string) string {
		switch {
		case prefix == "" && field == "":
			return fieldRecord
		case prefix == "":
			return field
		case field == "":
			return prefix
		}
		return prefix + "." + field
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		return &decodeError{field: join(te.Field), msg: fmt.Sprintf("want %s, got JSON %s", jsonKind(te.Type), te.Value), offset: te.Offset}
	}
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return &decodeError{field: join(""), msg: "invalid JSON: " + se.Error(), offset: se.Offset}
	}
	return &decodeError{field: join(""), msg: "invalid JSON: " + err.Error(), offset: -1}
}

// jsonKind names the JSON kind a Go type decodes from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return "an object"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	}
	return t.String()
}

// finish validates a decoded wire user and fills u. u is overwritten entirely.
func (d *decoder) finish(w *wireUser, u *schemas.User) *decodeError {
	if w.UserID == "" {
		return &decodeError{field: "user_id", msg: "missing or empty", offset: -1}
	}
	switch w.Status {
	case statusActive, statusPending:
	case "":
		return &decodeError{field: "status", msg: "missing or empty", offset: -1}
	default:
		return &decodeError{field: "status", msg: fmt.Sprintf("%q is not %q or %q", w.Status, statusActive, statusPending), offset: -1}
	}
	*u = schemas.User{
		UserID:     w.UserID,
		ExternalID: w.ExternalID,
		Status:     w.Status,
		Roles:      w.Roles,
		IsLocked:   w.IsLocked,
	}
	var derr *decodeError
	if u.CreatedAt, derr = parseTime("created_at", w.CreatedAt); derr != nil {
		return derr
	}
	if u.LockCreatedAt, derr = parseTime("lock_created_at", w.LockCreatedAt); derr != nil {
		return derr
	}
	if u.LockExpiresAt, derr = parseTime("lock_expires_at", w.LockExpiresAt); derr != nil {
		return derr
	}
	if w.Name != nil {
		u.FirstName, u.MiddleName, u.LastName = w.Name.FirstName, w.Name.MiddleName, w.Name.LastName
	}
	if w.Password != nil {
		rr := w.Password.RequiresReset
		u.PasswordID, u.PasswordRequiresReset = w.Password.PasswordID, &rr
	}
	u.Emails = convertSlice(w.Emails, func(v stytch.UserEmail) schemas.Email { return schemas.Email(v) })
	u.PhoneNumbers = convertSlice(w.PhoneNumbers, func(v stytch.UserPhoneNumber) schemas.PhoneNumber { return schemas.PhoneNumber(v) })
	u.Providers = convertSlice(w.Providers, func(v stytch.OAuthProvider) schemas.Provider { return schemas.Provider(v) })
	u.WebAuthnRegistrations = convertSlice(w.WebAuthnRegistrations, func(v stytch.WebAuthnRegistration) schemas.WebAuthnRegistration {
		return schemas.WebAuthnRegistration(v)
	})
	u.BiometricRegistrations = convertSlice(w.BiometricRegistrations, func(v stytch.BiometricRegistration) schemas.BiometricRegistration {
		return schemas.BiometricRegistration(v)
	})
	u.TOTPs = convertSlice(w.TOTPs, func(v stytch.TOTP) schemas.TOTP { return schemas.TOTP(v) })
	u.CryptoWallets = convertSlice(w.CryptoWallets, func(v stytch.CryptoWallet) schemas.CryptoWallet { return schemas.CryptoWallet(v) })
	if u.TrustedMetadata, derr = d.metadata("trusted_metadata", w.TrustedMetadata); derr != nil {
		return derr
	}
	if u.UntrustedMetadata, derr = d.metadata("untrusted_metadata", w.UntrustedMetadata); derr != nil {
		return derr
	}
	return nil
}

// convertSlice converts a wire slice, keeping nil (JSON null or absent) apart from empty.
func convertSlice[W, S any](in []W, conv func(W) S) []S {
	if in == nil {
		return nil
	}
	out := make([]S, len(in))
	for i, v := range in {
		out[i] = conv(v)
	}
	return out
}

// parseTime parses an RFC 3339 timestamp; "" (absent or null) is the zero time.
func parseTime(field, s string) (time.Time, *decodeError) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &decodeError{field: field, msg: fmt.Sprintf("%q is not an RFC 3339 time", s), offset: -1}
	}
	return t.UTC(), nil
}

// metadata returns a metadata object as compact JSON text (insignificant whitespace removed; key
// order, escapes and number spelling untouched), or "" for null or absent.
func (d *decoder) metadata(field string, raw json.RawMessage) (string, *decodeError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] != '{' {
		return "", &decodeError{field: field, msg: "want an object, got JSON " + rawKind(raw), offset: -1}
	}
	d.compact.Reset()
	if err := json.Compact(&d.compact, raw); err != nil {
		return "", &decodeError{field: field, msg: "invalid JSON: " + err.Error(), offset: -1}
	}
	return d.compact.String(), nil
}

// rawKind names the JSON kind of a value by its first byte.
func rawKind(raw []byte) string {
	switch raw[0] {
	case '"':
		return "string"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	case '{':
		return "object"
	}
	return "number"
}
