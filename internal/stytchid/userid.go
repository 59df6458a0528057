package stytchid

// The two environments of a Stytch user id, in the byte order of their prefixes.
const (
	envLive = 0
	envTest = 1
)

// Prefixes of canonical user ids, and the length of a canonical UUID's text.
const (
	TestPrefix = "user-test-"
	LivePrefix = "user-live-"
	UUIDLen    = 36
	// PackedLen is the length of a packed user id: the environment, then the 16 UUID bytes.
	PackedLen = 17
	// textLen is the length of a canonical user id.
	textLen = len(TestPrefix) + UUIDLen
)

// PackUUID packs a lower-case canonical UUID text (8-4-4-4-12 hex digits) into 16 bytes. Upper
// case and any other form are refused, so that the packing is one-to-one with the text.
func PackUUID(s string) ([16]byte, bool) {
	var out [16]byte
	if len(s) != UUIDLen || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return out, false
	}
	// Without a branch per digit: whether a digit is 0-9 or a-f is a coin toss in a random
	// UUID, and mispredicted branches were most of the cost. bad collects every digit's
	// invalid bit.
	var bad byte
	for k, i := range uuidPairs {
		hi, lo := hexValues[s[i]], hexValues[s[i+1]]
		bad |= hi | lo
		out[k] = hi<<4 | lo&0xf
	}
	return out, bad&invalidHex == 0
}

// uuidPairs are where the 16 hex pairs of a canonical UUID text start.
var uuidPairs = [16]uint8{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}

// invalidHex marks a byte that is not a lower-case hex digit in hexValues.
const invalidHex = 0x10

// hexValues maps a lower-case hex digit to its value, and every other byte to invalidHex. It
// is never changed.
var hexValues = func() (t [256]byte) {
	for c := range t {
		v, ok := lowerHex(byte(c))
		if !ok {
			v = invalidHex
		}
		t[c] = v
	}
	return t
}()

// AppendPacked appends the packed form of a canonical user id to dst and reports whether id was
// one; dst is unchanged when it was not.
func AppendPacked(dst []byte, id string) ([]byte, bool) {
	if len(id) != textLen {
		return dst, false
	}
	var env byte
	switch id[:len(TestPrefix)] {
	case LivePrefix:
		env = envLive
	case TestPrefix:
		env = envTest
	default:
		return dst, false
	}
	u, ok := PackUUID(id[len(TestPrefix):])
	if !ok {
		return dst, false
	}
	return append(append(dst, env), u[:]...), true
}

// AppendUnpacked appends the text of a packed user id (PackedLen bytes from AppendPacked) to dst.
func AppendUnpacked(dst []byte, packed []byte) []byte {
	const hex = "0123456789abcdef"
	if packed[0] == envLive {
		dst = append(dst, LivePrefix...)
	} else {
		dst = append(dst, TestPrefix...)
	}
	for i, b := range packed[1:PackedLen] {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hex[b>>4], hex[b&0xf])
	}
	return dst
}

// lowerHex returns the value of a lower-case hex digit.
func lowerHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
