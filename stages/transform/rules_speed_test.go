package transform

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// This file keeps the straightforward implementations of normalizeEmail, scanMetadata and
// tally.add that the fast versions replaced, and checks that the fast versions agree with them.

// refNormalizeEmail is the reference implementation of normalizeEmail: trim White_Space, NFC,
// strings.ToLower, then the validity rules of DESIGN rule 2, one after the other.
func refNormalizeEmail(raw string) (email string, ok bool, detail string) {
	if !utf8.ValidString(raw) {
		return raw, false, "not valid UTF-8"
	}
	s := strings.TrimFunc(raw, refIsWhiteSpace)
	s = strings.ToLower(norm.NFC.String(s))
	if detail := refEmailProblem(s); detail != "" {
		return s, false, detail
	}
	return s, true, ""
}

// refEmailProblem is the reference implementation of emailProblem.
func refEmailProblem(s string) string {
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
		if refIsWhiteSpace(r) || unicode.Is(unicode.Cc, r) {
			return "contains white space or a control character"
		}
	}
	return ""
}

func refIsWhiteSpace(r rune) bool { return unicode.Is(unicode.White_Space, r) }

// refScanMetadata is the reference implementation of scanMetadata: a byte-at-a-time scan.
func refScanMetadata(s string) (metaInfo, error) {
	t := strings.TrimSpace(s)
	if t == "" || t == "null" {
		return metaInfo{}, nil
	}
	if t[0] != '{' {
		return metaInfo{}, errNotObject
	}
	var (
		info  = metaInfo{present: true}
		stack = make([]byte, 0, 8)
		n     int
	)
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			end, ok := refStringEnd(t, i)
			if !ok {
				return metaInfo{}, errMalformed
			}
			n += end - i
			i = end - 1
			continue
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
			if len(stack) == 0 && strings.TrimSpace(t[i+1:]) != "" {
				return metaInfo{}, errMalformed
			}
		case ':':
			if len(stack) == 1 {
				info.keys++
			}
		}
		n++
	}
	if len(stack) != 0 {
		return metaInfo{}, errMalformed
	}
	info.compactLen = n
	return info, nil
}

func refStringEnd(s string, i int) (int, bool) {
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

// emailEdgeCases are inputs at the edges of every normalization step and validity rule.
func emailEdgeCases() []string {
	local := func(n int) string { return strings.Repeat("a", n) }
	// total returns an address of exactly n bytes with a 64-byte local part.
	total := func(n int) string {
		d := n - 64 - 1 - 4
		return local(64) + "@" + strings.Repeat("d", d) + ".com"
	}
	cases := []string{
		"", " ", "@", "a@b", "a@b.c", "A@B.C", "ada@example.com", "Ada.Lovelace@Example.COM",
		"  ada@example.com  ", "\tada@example.com\n", "\vada@example.com\f", "\rada@example.com\r\n",
		"\x1cada@example.com", "ada@example.com\x1f", "\x00ada@example.com", "ada@example.com\x00",
		"\u0085ada@example.com", "ada@example.com\u0085", "\u00a0ada@example.com\u00a0",
		"\u2028ada@example.com\u2029", "\u3000ada@example.com\u3000", "\u1680ada@example.com",
		"\u202fada@example.com\u205f", "\u200aada@example.com\u2000",
		"ada\u0085@example.com", "ada\u00a0l@example.com", "ada\u2028@example.com", "ada\u3000@example.com",
		"ada\x01@example.com", "ada\x7f@example.com", "ada\x80@example.com", "ada\u0080@example.com",
		"ada\u009f@example.com", "ada\u00a1@example.com", "ada\v@example.com", "ada\x1c@example.com",
		"ada @example.com", "ada@exa mple.com", "ada@example.com ", " ada@example.com\u0085 ",
		"ada\u200b@example.com", "ada\u200d@example.com", "\u200bada@example.com\ufeff",
		"caf\u00e9@example.com", "cafe\u0301@example.com", "CAFE\u0301@EXAMPLE.COM", "CAF\u00c9@example.com",
		"e\u0301", "\u0301ada@example.com", "ada@\u0301.com", "a\u0308\u0301@x.io",
		"\u0130stanbul@example.com", "\u0049stanbul@example.com", "i\u0307@x.io", "\u0131@x.io",
		"\u212a@x.io", "\u212b@x.io", "\u1e9e@x.io", "stra\u00dfe@x.io", "\u03a3\u03a3@x.io",
		"\ufb01@x.io", "\u2126@x.io", "\uac00@x.io", "\u1100\u1161@x.io",
		"ada@@example.com", "ada@example@com", "@example.com", "ada@", "ada@.", "ada@com",
		"ada@localhost", "ada@example..com", "ada@.example.com", "ada@example.com.", "ada@..", "ada@a.b.c",
		"\x80", "\x00\x80", "\x80\x80", "\x80@x.io", " \x80 ", "\xc2\x85", "\xc2\xa0a@x.io",
		"ada\xff@example.com", "\xffada@example.com", "ada@example.com\xc3", "\xed\xa0\x80@x.io",
		local(63) + "@x.io", local(64) + "@x.io", local(65) + "@x.io", "A" + local(63) + "@x.io",
		" " + local(64) + "@x.io ", "\u00e9" + local(62) + "@x.io", "\u00e9" + local(63) + "@x.io",
		"e\u0301" + local(62) + "@x.io", "E\u0301" + local(61) + "@x.io",
		total(253), total(254), total(255), total(256), " " + total(254) + " ", "\u00a0" + total(254),
		strings.ToUpper(total(254)), total(254)[:200] + "\u00e9" + total(254)[202:],
		total(254)[:200] + "e\u0301" + total(254)[203:], total(254)[:200] + "E\u0301" + total(254)[203:],
		"\u0130" + total(254)[2:], strings.Repeat(" ", 300) + "ada@example.com",
		"ada@example.com" + strings.Repeat("\u3000", 100),
	}
	return cases
}

// emailByteSweep puts every Latin-1 character and every byte at each position of an address.
func emailByteSweep() []string {
	var cases []string
	for c := 0; c < 0x100; c++ {
		cases = append(cases, string(rune(c))+"ada@x.io", "ada"+string(rune(c))+"@x.io", "ada@x.io"+string(rune(c)),
			"ada@x"+string(rune(c))+"io", string([]byte{'a', byte(c), '@', 'x', '.', 'i', 'o'}))
	}
	return cases
}

// randomEmail builds a random address from pieces that exercise every rule.
func randomEmail(r *rand.Rand) string {
	pieces := []string{
		"a", "z", "A", "Z", "0", ".", "@", "@", "-", "_", "+", " ", "\t", "\v", "\x00", "\x1f", "\x7f",
		"\u0085", "\u00a0", "\u2028", "\u3000", "\u200b", "\u00e9", "e\u0301", "E\u0301", "\u0301",
		"\u0130", "\u0131", "\u212a", "\u00df", "\u03a3", "\xff", "\xc3", "ada", "Lovelace",
		"example", ".com", "gmail.com", "..", strings.Repeat("x", 30), strings.Repeat("Y", 60),
	}
	var b strings.Builder
	for n := r.IntN(12); n >= 0; n-- {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	if r.IntN(3) == 0 {
		b.WriteString("@" + pieces[r.IntN(len(pieces))] + ".io")
	}
	return b.String()
}

func checkEmailEquiv(t *testing.T, in string) {
	t.Helper()
	got, gotOK, gotWhy := normalizeEmail(in)
	want, wantOK, wantWhy := refNormalizeEmail(in)
	if got != want || gotOK != wantOK || gotWhy != wantWhy {
		t.Fatalf("normalizeEmail(%+q) = %+q, %v, %q; reference gives %+q, %v, %q",
			in, got, gotOK, gotWhy, want, wantOK, wantWhy)
	}
}

func TestNormalizeEmailMatchesReference(t *testing.T) {
	for _, in := range append(emailEdgeCases(), emailByteSweep()...) {
		checkEmailEquiv(t, in)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		checkEmailEquiv(t, randomEmail(r))
	}
	for _, in := range benchEmails() {
		checkEmailEquiv(t, in)
	}
}

func TestNormalizeEmailKeepsNormalizedInput(t *testing.T) {
	for _, in := range []string{"ada@example.com", "caf\u00e9@example.com", "a\u200b@x.io"} {
		if n := testing.AllocsPerRun(100, func() { normalizeEmail(in) }); n != 0 {
			t.Errorf("normalizeEmail(%+q) allocates %v times, want 0", in, n)
		}
		if got, _, _ := normalizeEmail(in); got != in {
			t.Errorf("normalizeEmail(%+q) = %+q", in, got)
		}
	}
}

func TestASCIIClassesMatchUnicode(t *testing.T) {
	for c := 0; c < utf8.RuneSelf; c++ {
		r := rune(c)
		if got, want := isWhiteSpace(r), unicode.Is(unicode.White_Space, r); got != want {
			t.Errorf("isWhiteSpace(%#x) = %v, want %v", c, got, want)
		}
		if got, want := asciiSpace(byte(c)), unicode.Is(unicode.White_Space, r); got != want {
			t.Errorf("asciiSpace(%#x) = %v, want %v", c, got, want)
		}
		want := unicode.Is(unicode.White_Space, r) || unicode.Is(unicode.Cc, r)
		if got := asciiBanned(byte(c)); got != want {
			t.Errorf("asciiBanned(%#x) = %v, want %v", c, got, want)
		}
	}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if got, want := isWhiteSpace(r), unicode.Is(unicode.White_Space, r); got != want {
			t.Fatalf("isWhiteSpace(%#x) = %v, want %v", r, got, want)
		}
	}
}

func FuzzNormalizeEmailMatchesReference(f *testing.F) {
	for _, in := range emailEdgeCases() {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in string) { checkEmailEquiv(t, in) })
}

// metadataEdgeCases are inputs at the edges of scanMetadata's structure checks.
func metadataEdgeCases() []string {
	cases := []string{
		"", " ", "null", " null ", "nul", "null x", "{}", " {} ", "{ }", "{", "}", "[]", "[1]", `"x"`, "1",
		"{}{}", "{} {}", "{}]", "{}}", "{]", "{[}]", "{\"a\":[1}", `{"a":"x}`, `{"a":1} x`, "{\"a\":1}\n",
		"{ \"a\" : 1 ,\n\t\"b\" : [ 1 , 2 ] }", `{"a b": " x : { "}`, `{"a":"say \"hi\": {"}`,
		`{"a":"\\"}`, `{"a":"\\\"}`, `{"a":"\\\\"}`, `{"a":"x\`, `{"a":"x\"`, `{"a":"x\\`, `{"\\":"\\\\\\"}`,
		`{"a":{"b":{"c":[1,{"d":[]}]}},"e":2}`, `{"a":1,"b":2,"c":{"d":3,"e":4}}`, `{"k":"é","ü":"\u00fc"}`,
		"{\"a\":1}\v", "\v{\"a\":1}", "\u0085{}", "{}\u00a0", "{\x00}", "{\"a\"\x00:1}", "{\f\"a\":1}",
		"{:::}", `{"a"::1}`, "{[]}", "{[{}]}", `{"a":[[[[[[[[[[[[1]]]]]]]]]]]]}`, `{"a":"}"}`, `{"a":"]"}`,
		`{"a":"` + strings.Repeat(`\"`, 50) + `"}`, `{"a":"` + strings.Repeat(`\\`, 50) + `"}`,
		metaOfLen(4096), metaOfLen(4097), metaWithKeys(20), metaWithKeys(21),
		strings.Replace(metaOfLen(4096), ":", " : ", 1),
	}
	return cases
}

// randomMetadata builds random JSON-like text from pieces that exercise every branch.
func randomMetadata(r *rand.Rand) string {
	pieces := []string{
		"{", "}", "[", "]", ":", ",", `"`, `\`, `\"`, `\\`, " ", "\t", "\n", "\r", "\v", "a", "1", "null",
		`"k"`, `"k":`, `"v"`, `"a b"`, `"\"q\""`, `"é"`, "é", `{"x":1}`, `[1,2]`, `"` + strings.Repeat("s", 40) + `"`,
	}
	var b strings.Builder
	if r.IntN(4) != 0 {
		b.WriteByte('{')
	}
	for n := r.IntN(16); n >= 0; n-- {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	if r.IntN(4) != 0 {
		b.WriteByte('}')
	}
	return b.String()
}

func checkMetadataEquiv(t *testing.T, in string) {
	t.Helper()
	got, gotErr := scanMetadata(in)
	want, wantErr := refScanMetadata(in)
	if got != want || gotErr != wantErr {
		t.Fatalf("scanMetadata(%+q) = %+v, %v; reference gives %+v, %v", in, got, gotErr, want, wantErr)
	}
}

func TestScanMetadataMatchesReference(t *testing.T) {
	for _, in := range metadataEdgeCases() {
		checkMetadataEquiv(t, in)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 200_000 {
		checkMetadataEquiv(t, randomMetadata(r))
	}
	for _, in := range benchMetadata() {
		checkMetadataEquiv(t, in)
	}
}

func TestScanMetadataDoesNotAllocate(t *testing.T) {
	deep := "{" + strings.Repeat(`"a":[`, 40) + "1" + strings.Repeat("]", 40) + "}"
	for _, in := range append(benchMetadata()[:8], deep) {
		if n := testing.AllocsPerRun(100, func() { scanMetadata(in) }); n != 0 {
			t.Errorf("scanMetadata(%q) allocates %v times, want 0", in, n)
		}
	}
}

func FuzzScanMetadataMatchesReference(f *testing.F) {
	for _, in := range metadataEdgeCases() {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in string) { checkMetadataEquiv(t, in) })
}

func TestTallyIsAFingerprintOfPairs(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	type pair struct{ user, org string }
	pairs := make([]pair, 5000)
	for i := range pairs {
		pairs[i] = pair{fmt.Sprintf("user-%d", r.IntN(2000)), []string{"", "acme", "beta", "org-1", "org-12"}[r.IntN(5)]}
	}
	sum := func(ps []pair) tally {
		var t tally
		for _, p := range ps {
			t.add(p.user, p.org)
		}
		return t
	}
	want := sum(pairs)
	shuffled := append([]pair(nil), pairs...)
	r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	var merged tally
	merged.merge(sum(shuffled[:1234]))
	merged.merge(sum(shuffled[1234:]))
	if merged != want {
		t.Fatalf("the same pairs in another order and split: %+v, want %+v", merged, want)
	}
	for range 1000 {
		i, j := r.IntN(len(pairs)), r.IntN(len(pairs))
		if pairs[i] == pairs[j] {
			continue
		}
		changed := append([]pair(nil), pairs...)
		changed[i] = pairs[j] // pair i lost, pair j doubled: the count stays the same
		if got := sum(changed); got == want {
			t.Fatalf("losing %v and doubling %v left the tally unchanged", pairs[i], pairs[j])
		}
	}
	if got := sum(pairs[1:]); got == want {
		t.Fatal("a lost pair left the tally unchanged")
	}
	// The separator keeps the boundary between user and org key.
	seen := map[tally]string{}
	for _, p := range []pair{{"ab", "c"}, {"a", "bc"}, {"abc", ""}, {"", "abc"}, {"a\x00", "bc"}, {"a", "\x00bc"}} {
		var t1 tally
		t1.add(p.user, p.org)
		if prev, dup := seen[t1]; dup {
			t.Fatalf("pairs %q and %v hash alike", prev, p)
		}
		seen[t1] = fmt.Sprint(p)
	}
	// Distinct pairs of every length hash apart.
	hashes := map[uint64]string{}
	for n := 0; n <= 80; n++ {
		for _, b := range []byte{'a', 'b', 0, 0xff} {
			u := strings.Repeat("u", n) + string(b)
			for k, org := range []string{"", "o", strings.Repeat("o", n)} {
				if k == 2 && n <= 1 {
					continue // the same pair as before
				}
				var t1 tally
				t1.add(u, org)
				if prev, dup := hashes[t1.sum]; dup {
					t.Fatalf("(%q, %q) and %s hash alike", u, org, prev)
				}
				hashes[t1.sum] = fmt.Sprintf("(%q, %q)", u, org)
			}
		}
	}
}

func TestTallyAddDoesNotAllocate(t *testing.T) {
	var tl tally
	if n := testing.AllocsPerRun(100, func() { tl.add("user-test-0123abcd-0123-4567-89ab-0123456789ab", "org-17") }); n != 0 {
		t.Errorf("tally.add allocates %v times, want 0", n)
	}
}
