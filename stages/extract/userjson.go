package extract

import (
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// The fast path: a single-pass decoder for the User object, specialised for its known keys.
//
// It handles what real exports contain (every field, null, empty and absent lists, escapes,
// \u escapes and surrogate pairs, unknown keys, metadata of any shape) and gives up — returns
// false — on anything else: malformed JSON, a wrong type, a failed validation, a repeated key, a
// key that matches a field only case-insensitively, a key with escapes or non-ASCII bytes, a null
// list element, invalid UTF-8 in a decoded string, nesting deeper than maxFastDepth. The caller
// then decodes the record again with encoding/json (decodeJSONSlow, the CSV setters), which
// produces the error or the edge-case result. So the fast path must be right only for what it
// accepts, and there its result equals encoding/json's exactly (checked by TestFastDecoderMatches
// and FuzzUserDecoder).
//
// Decoded strings are substrings of the record's text (a view of the caller's bytes, see
// decodeJSON) unless they contain escapes, and compacted metadata is a substring unless it has
// whitespace to remove, so a typical record costs one allocation per non-empty list (and one for
// a password's requires_reset, each string with escapes and each metadata object to compact).
// The users' strings are valid while the record's bytes are; idSet clones the ids it keeps.

// maxFastDepth bounds the nesting the fast path skips or compacts recursively; deeper records go
// to encoding/json (which allows 10,000 levels).
const maxFastDepth = 256

// Field numbers of the User object, in wire order; userKeys[f] is field f's JSON key.
const (
	fUserID = iota
	fExternalID
	fStatus
	fCreatedAt
	fName
	fEmails
	fPhoneNumbers
	fProviders
	fWebAuthn
	fBiometric
	fTOTPs
	fCryptoWallets
	fPassword
	fRoles
	fIsLocked
	fLockCreatedAt
	fLockExpiresAt
	fTrustedMetadata
	fUntrustedMetadata
	numUserFields
)

// userKeys are the JSON keys of the User object by field number. Read-only.
var userKeys = [numUserFields]string{
	"user_id", "external_id", "status", "created_at", "name", "emails", "phone_numbers", "providers",
	"webauthn_registrations", "biometric_registrations", "totps", "crypto_wallets", "password",
	"roles", "is_locked", "lock_created_at", "lock_expires_at", "trusted_metadata", "untrusted_metadata",
}

// userField returns the field number of a User key, or -1 for a key that is not a field.
func userField(key string) int {
	switch key {
	case "user_id":
		return fUserID
	case "external_id":
		return fExternalID
	case "status":
		return fStatus
	case "created_at":
		return fCreatedAt
	case "name":
		return fName
	case "emails":
		return fEmails
	case "phone_numbers":
		return fPhoneNumbers
	case "providers":
		return fProviders
	case "webauthn_registrations":
		return fWebAuthn
	case "biometric_registrations":
		return fBiometric
	case "totps":
		return fTOTPs
	case "crypto_wallets":
		return fCryptoWallets
	case "password":
		return fPassword
	case "roles":
		return fRoles
	case "is_locked":
		return fIsLocked
	case "lock_created_at":
		return fLockCreatedAt
	case "lock_expires_at":
		return fLockExpiresAt
	case "trusted_metadata":
		return fTrustedMetadata
	case "untrusted_metadata":
		return fUntrustedMetadata
	}
	return -1
}

// fastScratch is the fast path's per-decoder scratch: reused list buffers and the scanner.
type fastScratch struct {
	sc         jsonScanner
	emails     []schemas.Email
	phones     []schemas.PhoneNumber
	providers  []schemas.Provider
	webAuthn   []schemas.WebAuthnRegistration
	biometrics []schemas.BiometricRegistration
	totps      []schemas.TOTP
	wallets    []schemas.CryptoWallet
	roles      []string
}

// fastTimes are a record's time fields as text, parsed once the record is read.
type fastTimes struct {
	createdAt, lockCreatedAt, lockExpiresAt string
}

// fastJSON decodes one User object from text, reporting false when the record must go to
// encoding/json instead. u is overwritten entirely.
func (d *decoder) fastJSON(text string, u *schemas.User) bool {
	*u = schemas.User{}
	sc := &d.fast.sc
	sc.reset(text)
	if sc.peek() != '{' {
		return false
	}
	var times fastTimes
	var seen uint32
	ok := sc.object(func(key string) bool {
		f := userField(key)
		if f < 0 {
			return sc.unknown(key, userKeys[:]...)
		}
		if seen&(1<<f) != 0 {
			return false
		}
		seen |= 1 << f
		return d.fastValue(f, u, &times)
	})
	if !ok || sc.peek() != 0 || sc.i != len(sc.s) {
		return false
	}
	return fastFinish(u, &times)
}

// fastValue decodes the JSON value of User field f at the scanner's position (after whitespace)
// into u, with encoding/json's meaning of null: nil for a list or an object, no effect otherwise.
func (d *decoder) fastValue(f int, u *schemas.User, times *fastTimes) bool {
	sc := &d.fast.sc
	switch f {
	case fUserID:
		return sc.stringValue(&u.UserID)
	case fExternalID:
		return sc.stringValue(&u.ExternalID)
	case fStatus:
		return sc.stringValue(&u.Status)
	case fCreatedAt:
		return sc.stringValue(&times.createdAt)
	case fLockCreatedAt:
		return sc.stringValue(&times.lockCreatedAt)
	case fLockExpiresAt:
		return sc.stringValue(&times.lockExpiresAt)
	case fIsLocked:
		return sc.boolValue(&u.IsLocked)
	case fName:
		if sc.isNull() {
			return true
		}
		var seen uint32
		return sc.object(func(key string) bool {
			switch key {
			case "first_name":
				return mark(&seen, 0) && sc.stringValue(&u.FirstName)
			case "middle_name":
				return mark(&seen, 1) && sc.stringValue(&u.MiddleName)
			case "last_name":
				return mark(&seen, 2) && sc.stringValue(&u.LastName)
			}
			return sc.unknown(key, "first_name", "middle_name", "last_name")
		})
	case fPassword:
		if sc.isNull() {
			return true
		}
		var seen uint32
		var rr bool
		ok := sc.object(func(key string) bool {
			switch key {
			case "password_id":
				return mark(&seen, 0) && sc.stringValue(&u.PasswordID)
			case "requires_reset":
				return mark(&seen, 1) && sc.boolValue(&rr)
			}
			return sc.unknown(key, "password_id", "requires_reset")
		})
		u.PasswordRequiresReset = &rr
		return ok
	case fRoles:
		var ok bool
		u.Roles, ok = fastList(sc, &d.fast.roles, func(r *string) bool {
			return sc.at('"') && sc.stringValue(r)
		})
		return ok
	case fEmails:
		var ok bool
		u.Emails, ok = fastList(sc, &d.fast.emails, func(e *schemas.Email) bool {
			var seen uint32
			return sc.object(func(key string) bool {
				switch key {
				case "email_id":
					return mark(&seen, 0) && sc.stringValue(&e.EmailID)
				case "email":
					return mark(&seen, 1) && sc.stringValue(&e.Email)
				case "verified":
					return mark(&seen, 2) && sc.boolValue(&e.Verified)
				}
				return sc.unknown(key, "email_id", "email", "verified")
			})
		})
		return ok
	case fPhoneNumbers:
		var ok bool
		u.PhoneNumbers, ok = fastList(sc, &d.fast.phones, func(p *schemas.PhoneNumber) bool {
			var seen uint32
			return sc.object(func(key string) bool {
				switch key {
				case "phone_id":
					return mark(&seen, 0) && sc.stringValue(&p.PhoneID)
				case "phone_number":
					return mark(&seen, 1) && sc.stringValue(&p.PhoneNumber)
				case "verified":
					return mark(&seen, 2) && sc.boolValue(&p.Verified)
				}
				return sc.unknown(key, "phone_id", "phone_number", "verified")
			})
		})
		return ok
	case fProviders:
		var ok bool
		u.Providers, ok = fastList(sc, &d.fast.providers, func(p *schemas.Provider) bool {
			var seen uint32
			return sc.object(func(key string) bool {
				switch key {
				case "provider_type":
					return mark(&seen, 0) && sc.stringValue(&p.ProviderType)
				case "provider_subject":
					return mark(&seen, 1) && sc.stringValue(&p.ProviderSubject)
				case "profile_picture_url":
					return mark(&seen, 2) && sc.stringValue(&p.ProfilePictureURL)
				case "locale":
					return mark(&seen, 3) && sc.stringValue(&p.Locale)
				case "oauth_user_registration_id":
					return mark(&seen, 4) && sc.stringValue(&p.OAuthUserRegistrationID)
				}
				return sc.unknown(key, "provider_type", "provider_subject", "profile_picture_url", "locale", "oauth_user_registration_id")
			})
		})
		return ok
	case fWebAuthn:
		var ok bool
		u.WebAuthnRegistrations, ok = fastList(sc, &d.fast.webAuthn, func(w *schemas.WebAuthnRegistration) bool {
			var seen uint32
			return sc.object(func(key string) bool {
				switch key {
				case "webauthn_registration_id":
					return mark(&seen, 0) && sc.stringValue(&w.WebAuthnRegistrationID)
				case "domain":
					return mark(&seen, 1) && sc.stringValue(&w.Domain)
				case "user_agent":
					return mark(&seen, 2) && sc.stringValue(&w.UserAgent)
				case "verified":
					return mark(&seen, 3) && sc.boolValue(&w.Verified)
				case "authenticator_type":
					return mark(&seen, 4) && sc.stringValue(&w.AuthenticatorType)
				case "name":
					return mark(&seen, 5) && sc.stringValue(&w.Name)
				}
				return sc.unknown(key, "webauthn_registration_id", "domain", "user_agent", "verified", "authenticator_type", "name")
			})
		})
		return ok
	case fBiometric:
		var ok bool
		u.BiometricRegistrations, ok = fastList(sc, &d.fast.biometrics, func(b *schemas.BiometricRegistration) bool {
			var seen uint32
			return sc.object(func(key string) bool {
				switch key {
				case "biometric_registration_id":
					return mark(&seen, 0) && sc.stringValue(&b.BiometricRegistrationID)
				case "verified":
					return mark(&seen, 1) && sc.boolValue(&b.Verified)
				}
				return sc.unknown(key, "biometric_registration_id", "verified")
			})
		})
		return ok
	case fTOTPs:
		var ok bool
		u.TOTPs, ok = fastList(sc, &d.fast.totps, func(t *schemas.TOTP) bool {
			var seen uint32
			return sc.object(func(key string) bool {
				switch key {
				case "totp_id":
					return mark(&seen, 0) && sc.stringValue(&t.TOTPID)
				case "verified":
					return mark(&seen, 1) && sc.boolValue(&t.Verified)
				}
				return sc.unknown(key, "totp_id", "verified")
			})
		})
		return ok
	case fCryptoWallets:
		var ok bool
		u.CryptoWallets, ok = fastList(sc, &d.fast.wallets, func(c *schemas.CryptoWallet) bool {
			var seen uint32
			return sc.object(func(key string) bool {
				switch key {
				case "crypto_wallet_id":
					return mark(&seen, 0) && sc.stringValue(&c.CryptoWalletID)
				case "crypto_wallet_address":
					return mark(&seen, 1) && sc.stringValue(&c.CryptoWalletAddress)
				case "crypto_wallet_type":
					return mark(&seen, 2) && sc.stringValue(&c.CryptoWalletType)
				case "verified":
					return mark(&seen, 3) && sc.boolValue(&c.Verified)
				}
				return sc.unknown(key, "crypto_wallet_id", "crypto_wallet_address", "crypto_wallet_type", "verified")
			})
		})
		return ok
	case fTrustedMetadata:
		return sc.metadataValue(&u.TrustedMetadata)
	case fUntrustedMetadata:
		return sc.metadataValue(&u.UntrustedMetadata)
	}
	return false
}

// fastFinish applies finish's checks to a user decoded by the fast path; it reports false where
// finish would return an error.
func fastFinish(u *schemas.User, times *fastTimes) bool {
	if u.UserID == "" {
		return false
	}
	switch u.Status {
	case statusActive:
		u.Status = statusActive // not a substring of the record's text
	case statusPending:
		u.Status = statusPending
	default:
		return false
	}
	var derr *decodeError
	if u.CreatedAt, derr = parseTime("created_at", times.createdAt); derr != nil {
		return false
	}
	if u.LockCreatedAt, derr = parseTime("lock_created_at", times.lockCreatedAt); derr != nil {
		return false
	}
	if u.LockExpiresAt, derr = parseTime("lock_expires_at", times.lockExpiresAt); derr != nil {
		return false
	}
	return true
}

// fastCSV decodes one CSV record (a row of l's columns) on the fast path. String columns are
// taken as they are, JSON columns decoded as fastValue decodes the same field in a JSON record;
// it reports false when the record must go to the encoding/json setters instead.
func (d *decoder) fastCSV(rec []string, l *csvLayout, u *schemas.User) bool {
	*u = schemas.User{}
	if len(rec) != len(l.fields) {
		return false
	}
	var times fastTimes
	sc := &d.fast.sc
	for i, cell := range rec {
		switch f := l.fields[i]; f {
		case fUserID:
			u.UserID = cell
		case fExternalID:
			u.ExternalID = cell
		case fStatus:
			u.Status = cell
		case fCreatedAt:
			times.createdAt = cell
		case fLockCreatedAt:
			times.lockCreatedAt = cell
		case fLockExpiresAt:
			times.lockExpiresAt = cell
		default:
			if cell == "" {
				continue // null
			}
			sc.reset(cell)
			if sc.peek() == 0 || !d.fastValue(f, u, &times) || sc.peek() != 0 || sc.i != len(sc.s) {
				return false
			}
		}
	}
	return fastFinish(u, &times)
}

// mark sets bit in seen and reports whether it was clear: a repeated key is left to encoding/json
// (which lets the last one win, merging repeated objects).
func mark(seen *uint32, bit uint) bool {
	if *seen&(1<<bit) != 0 {
		return false
	}
	*seen |= 1 << bit
	return true
}

// fastList decodes a JSON array of elements (or null, which is a nil list) into a new slice of
// exactly its length, reusing *scratch while reading. elem decodes one element at the scanner's
// position; a null element is refused by elem and so left to encoding/json.
func fastList[T any](sc *jsonScanner, scratch *[]T, elem func(*T) bool) ([]T, bool) {
	if sc.isNull() {
		return nil, true
	}
	if !sc.at('[') {
		return nil, false
	}
	sc.i++
	if sc.peek() == ']' {
		sc.i++
		return []T{}, true
	}
	buf := (*scratch)[:0]
	defer func() { clear(buf); *scratch = buf[:0] }()
	for {
		var zero T
		buf = append(buf, zero)
		if sc.peek() == 0 || !elem(&buf[len(buf)-1]) {
			return nil, false
		}
		switch sc.peek() {
		case ',':
			sc.i++
			continue
		case ']':
			sc.i++
			out := make([]T, len(buf))
			copy(out, buf)
			return out, true
		}
		return nil, false
	}
}

// jsonScanner reads JSON text held in a string, validating as strictly as encoding/json. Its
// methods report false on anything they do not handle.
type jsonScanner struct {
	s string
	i int
	// buf is scratch for unescaping and compacting.
	buf []byte
	// gaps, while recording, collects the whitespace runs skipped, as start, end pairs of
	// offsets (see metadataValue).
	gaps      []int
	recording bool
}

func (sc *jsonScanner) reset(s string) { sc.s, sc.i = s, 0 }

// peek skips whitespace and returns the next byte, or 0 at the end.
func (sc *jsonScanner) peek() byte {
	if sc.i < len(sc.s) && sc.s[sc.i] > ' ' {
		return sc.s[sc.i]
	}
	return sc.skipSpace()
}

// skipSpace is peek's slow path.
func (sc *jsonScanner) skipSpace() byte {
	i := sc.i
	for i < len(sc.s) {
		switch sc.s[i] {
		case ' ', '\t', '\n', '\r':
			i++
			continue
		}
		break
	}
	if sc.recording && i > sc.i {
		sc.gaps = append(sc.gaps, sc.i, i)
	}
	sc.i = i
	if i < len(sc.s) {
		return sc.s[i]
	}
	return 0
}

// at reports whether the next byte is c (without skipping whitespace).
func (sc *jsonScanner) at(c byte) bool { return sc.i < len(sc.s) && sc.s[sc.i] == c }

// isNull consumes a null literal if one is next.
func (sc *jsonScanner) isNull() bool { return sc.literal("null") }

// literal consumes lit if it is next.
func (sc *jsonScanner) literal(lit string) bool {
	if strings.HasPrefix(sc.s[sc.i:], lit) {
		sc.i += len(lit)
		return true
	}
	return false
}

// object reads an object (the scanner at its '{'), calling member for each key with the scanner
// at the member's value.
func (sc *jsonScanner) object(member func(key string) bool) bool {
	if !sc.at('{') {
		return false
	}
	sc.i++
	if sc.peek() == '}' {
		sc.i++
		return true
	}
	for {
		if sc.peek() != '"' {
			return false
		}
		key, ok := sc.key()
		if !ok || sc.peek() != ':' {
			return false
		}
		sc.i++
		if sc.peek() == 0 || !member(key) {
			return false
		}
		switch sc.peek() {
		case ',':
			sc.i++
		case '}':
			sc.i++
			return true
		default:
			return false
		}
	}
}

// key reads an object key: plain ASCII without escapes only (encoding/json matches keys
// case-insensitively with Unicode folding, and unescapes them first; such keys go to it).
func (sc *jsonScanner) key() (string, bool) {
	s := sc.s
	for j := sc.i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			k := s[sc.i+1 : j]
			sc.i = j + 1
			return k, true
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			return "", false
		}
	}
	return "", false
}

// unknown skips the value of a key that is not one of known. A key equal to a known one but for
// case is refused: encoding/json would decode it into that field.
func (sc *jsonScanner) unknown(key string, known ...string) bool {
	for _, k := range known {
		if strings.EqualFold(key, k) {
			return false
		}
	}
	return sc.skip(0)
}

// stringValue decodes a string into *dst; null leaves *dst as it is.
func (sc *jsonScanner) stringValue(dst *string) bool {
	if sc.at('"') {
		v, ok := sc.str()
		*dst = v
		return ok
	}
	return sc.isNull()
}

// boolValue decodes a boolean into *dst; null leaves *dst as it is.
func (sc *jsonScanner) boolValue(dst *bool) bool {
	switch {
	case sc.literal("true"):
		*dst = true
	case sc.literal("false"):
		*dst = false
	default:
		return sc.isNull()
	}
	return true
}

// metadataValue decodes a metadata object into *dst as compact JSON text (json.Compact: the text
// without its insignificant whitespace); null is "". Anything but an object or null is refused
// (finish reports it).
func (sc *jsonScanner) metadataValue(dst *string) bool {
	if sc.isNull() {
		*dst = ""
		return true
	}
	if !sc.at('{') {
		return false
	}
	start := sc.i
	sc.gaps, sc.recording = sc.gaps[:0], true
	ok := sc.skip(0)
	sc.recording = false
	if !ok {
		return false
	}
	if len(sc.gaps) == 0 {
		*dst = sc.s[start:sc.i]
		return true
	}
	b := sc.buf[:0]
	for k := 0; k < len(sc.gaps); k += 2 {
		b = append(b, sc.s[start:sc.gaps[k]]...)
		start = sc.gaps[k+1]
	}
	b = append(b, sc.s[start:sc.i]...)
	sc.buf = b
	*dst = string(b)
	return true
}

// str decodes the string at the scanner (at its opening quote). Without escapes the value is a
// substring of the text; invalid UTF-8 is refused (encoding/json replaces it with U+FFFD).
func (sc *jsonScanner) str() (string, bool) {
	s := sc.s
	start := sc.i + 1
	ascii := true
	for j := start; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			v := s[start:j]
			sc.i = j + 1
			if !ascii && !utf8.ValidString(v) {
				return "", false
			}
			return v, true
		case c == '\\':
			return sc.unescape(start, j)
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// unescape decodes a string with escapes: s[start:j] is its plain beginning, s[j] the first
// backslash. \u escapes follow encoding/json: a valid surrogate pair is one rune, any other
// surrogate is U+FFFD.
func (sc *jsonScanner) unescape(start, j int) (string, bool) {
	s := sc.s
	b := append(sc.buf[:0], s[start:j]...)
	defer func() { sc.buf = b }()
	for j < len(s) {
		c := s[j]
		switch {
		case c == '"':
			sc.i = j + 1
			if !utf8.Valid(b) {
				return "", false
			}
			return string(b), true
		case c < 0x20:
			return "", false
		case c != '\\':
			b = append(b, c)
			j++
			continue
		}
		if j+1 >= len(s) {
			return "", false
		}
		switch e := s[j+1]; e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r := hex4(s, j+2)
			if r < 0 {
				return "", false
			}
			j += 6
			if utf16.IsSurrogate(r) {
				if j+1 < len(s) && s[j] == '\\' && s[j+1] == 'u' {
					if r2 := hex4(s, j+2); r2 >= 0 {
						if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
							b = utf8.AppendRune(b, dec)
							j += 6
							continue
						}
					}
				}
				r = unicode.ReplacementChar
			}
			b = utf8.AppendRune(b, r)
			continue
		default:
			return "", false
		}
		j += 2
	}
	return "", false
}

// hex4 returns the value of the four hex digits at s[i:], or -1.
func hex4(s string, i int) rune {
	if i+4 > len(s) {
		return -1
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// skip validates and skips one JSON value of any kind at the scanner (after whitespace).
func (sc *jsonScanner) skip(depth int) bool {
	if depth > maxFastDepth || sc.i >= len(sc.s) {
		return false
	}
	switch c := sc.s[sc.i]; {
	case c == '{':
		return sc.object(func(string) bool { return sc.skip(depth + 1) })
	case c == '[':
		sc.i++
		if sc.peek() == ']' {
			sc.i++
			return true
		}
		for {
			if sc.peek() == 0 || !sc.skip(depth+1) {
				return false
			}
			switch sc.peek() {
			case ',':
				sc.i++
			case ']':
				sc.i++
				return true
			default:
				return false
			}
		}
	case c == '"':
		return sc.skipString()
	case c == 't':
		return sc.literal("true")
	case c == 'f':
		return sc.literal("false")
	case c == 'n':
		return sc.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return sc.number()
	}
	return false
}

// skipString validates and skips a string (the scanner at its opening quote) as encoding/json's
// scanner does: no control characters, only valid escapes; bytes are not checked for UTF-8.
func (sc *jsonScanner) skipString() bool {
	s := sc.s
	for j := sc.i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			sc.i = j + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if j+1 >= len(s) {
				return false
			}
			switch s[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				if hex4(s, j+2) < 0 {
					return false
				}
				j += 5
			default:
				return false
			}
		}
	}
	return false
}

// number validates and skips a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (sc *jsonScanner) number() bool {
	s, i := sc.s, sc.i
	digits := func() bool {
		n := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		return i > n
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	sc.i = i
	return true
}
