package demodata

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/stytch"
)

// Defaults of the bundled sample.
const (
	// DefaultSeed is the seed of the committed sample in testdata/demo/.
	DefaultSeed = 20260401
	// DefaultUsers is the number of users of the committed sample.
	DefaultUsers = 3000
	// PageSize is the number of users per export page; the header is repeated before each page.
	PageSize = 1000
)

// File names written by Generate.
const (
	UsersFile  = "users.csv"
	OrgsFile   = "orgs.csv"
	HashesFile = "hashes.csv"
	ConfigFile = "migrate.yaml"
)

// Proportions of the messy cases, in thousandths of the users.
const (
	permillePhoneOnly    = 20
	permilleInvalidEmail = 15
	permillePending      = 40
	permilleNoOrg        = 30
	permilleUnknownOrg   = 10
	permilleOversized    = 4
	permilleTwoOrgs      = 50
	permilleDupSameOrg   = 25
	permilleDupCrossOrg  = 12
	permilleUnicode      = 60
)

// Size limits the sample exercises (B2B metadata limits).
const (
	oversizedBytes = 4200
	tooManyKeys    = 24
)

// fileMode is the mode of the generated files.
const fileMode = 0o644

// exportColumns is the export utility's column order (stytch-api.md §9).
var exportColumns = []string{
	"user_id", "status", "created_at", "name", "emails", "phone_numbers", "trusted_metadata",
	"untrusted_metadata", "providers", "webauthn_registrations", "biometric_registrations", "totps",
	"crypto_wallets", "password",
}

// hashColumns are the columns of hashes.csv, as the transform stage reads them.
var hashColumns = []string{
	"user_id", "email", "hash_type", "hash", "prepend_salt", "append_salt", "salt", "iteration_amount",
	"memory", "threads", "key_length", "n_parameter", "r_parameter", "p_parameter", "algorithm",
}

// org is one organization of the sample.
type org struct {
	key, name, slug, domains string
	// inFile is false for the key users reference but orgs.csv leaves out.
	inFile bool
}

// organizations are the sample's organizations. "acme-labs" has no slug and a name that derives
// "acme-corp", the explicit slug of "acme": a slug clash the transform must resolve.
var organizations = []org{
	{"acme", "Acme Corporation", "acme-corp", "acme.com;acme.io", true},
	{"globex", "Globex", "globex", "globex.com", true},
	{"initech", "Initech", "", "initech.com", true},
	{"hooli", "Hooli", "hooli", "hooli.xyz", true},
	{"piedpiper", "Pied Piper", "", "piedpiper.com", true},
	{"stark", "Stark Industries", "stark", "stark.com", true},
	{"wayne", "Wayne Enterprises", "", "wayne.com", true},
	{"wonka", "Wonka Industries", "", "wonka.com", true},
	{"umbrella", "", "", "", false},
	{"tyrell", "Tyrell Corp.", "", "tyrell.com", true},
	{"cyberdyne", "Cyberdyne Systems", "", "cyberdyne.com", true},
	{"aperture", "Aperture Science", "", "aperture.com", true},
	{"zuerich", "Zürich Rück & Co. <Holding>", "", "zuerich-rueck.ch", true},
	{"sample-kk", "株式会社サンプル", "sample-kk", "sample.co.jp", true},
	{"blackmesa", "Black Mesa", "", "blackmesa.org", true},
	{"oscorp", "Oscorp", "", "oscorp.com", true},
	{"gringotts", "Gringotts Wizarding Bank", "", "gringotts.co.uk", true},
	{"acme-labs", "Acme Corp", "", "labs.acme.com", true},
	{"vandelay", "Vandelay Industries", "", "vandelay.com", true},
	{"kramerica", "Kramerica", "", "kramerica.com", true},
	{"dunder", "Dunder Mifflin", "dunder-mifflin", "dundermifflin.com", true},
	{"bluth", "Bluth Company", "", "bluth.com", true},
	{"soylent", "Soylent", "", "soylent.com", true},
	{"duff", "Duff Beer", "", "duff.com", true},
}

var (
	firstNames = []string{"Ana", "Ben", "Chloe", "David", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jack",
		"Kira", "Liam", "Maya", "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera",
		"Will", "Xena", "Yusuf", "Zara"}
	lastNames = []string{"Silva", "Smith", "Jones", "Brown", "Garcia", "Miller", "Davis", "Wilson", "Moore",
		"Taylor", "Anderson", "Thomas", "Martin", "Lee", "Walker", "Hall", "Young", "King", "Wright", "Scott"}
	// unicodeNames pair a display name with the email local part a user of that name picked.
	unicodeNames = []struct{ first, last, local string }{
		{"Zoë", "Müller", "zoë.müller"}, {"José", "García", "josé.garcía"}, {"Łukasz", "Wróbel", "lukasz.wrobel"},
		{"Søren", "Østergaard", "søren"}, {"Nguyễn", "Thị Minh", "minh.nguyen"}, {"雷", "李", "li.lei"},
		{"Аня", "Смирнова", "anya"}, {"Siobhán", "Ó Briain", "siobhan.obriain"}, {"François", "L'Hôpital", "françois"},
	}
	personalDomains = []string{"gmail.com", "outlook.com", "yahoo.com"}
	invalidEmails   = []string{"not-an-email", "two@@at.example.com", "spaces in@acme.com", "nodot@localhost",
		"@acme.com", "trailing@acme.com.", "tab\there@globex.com", strings.Repeat("x", 70) + "@initech.com"}
)

// user is one generated user; nil pointers and empty raw values are written as empty cells.
type user struct {
	id, status string
	created    time.Time
	name       *stytch.UserName
	emails     []stytch.UserEmail
	phones     []stytch.UserPhoneNumber
	trusted    string
	untrusted  string
	providers  []stytch.OAuthProvider
	webauthn   []stytch.WebAuthnRegistration
	biometrics []stytch.BiometricRegistration
	totps      []stytch.TOTP
	wallets    []stytch.CryptoWallet
	password   *stytch.UserPassword
	// plain marks a user expected to become a member (a candidate for a password hash).
	plain bool
}

// membership remembers an email used in an organization, for the duplicate cases.
type membership struct {
	email string
	org   string
	at    time.Time
}

// generator holds the state of one Generate call.
type generator struct {
	rng   *rand.Rand
	base  time.Time
	users []*user
	used  []membership
	// weights are the cumulative Zipf-like weights of the organizations users pick from.
	weights []float64
	pickers []org
}

// Generate writes the demo sample of n users (see the package overview) into dir, creating it.
// The same seed and n always produce the same files. Each file is written atomically.
func Generate(dir string, seed int64, n int) error {
	if n <= 0 {
		return fmt.Errorf("generate demo sample: n must be positive, got %d", n)
	}
	g := newGenerator(seed)
	for i := range n {
		g.users = append(g.users, g.user(i))
	}
	files := []struct {
		name string
		data func() ([]byte, error)
	}{
		{UsersFile, g.usersCSV},
		{OrgsFile, orgsCSV},
		{HashesFile, g.hashesCSV},
		{ConfigFile, func() ([]byte, error) { return []byte(configYAML), nil }},
	}
	for _, f := range files {
		data, err := f.data()
		if err != nil {
			return fmt.Errorf("generate demo %s: %w", f.name, err)
		}
		if err := pipeline.WriteFileAtomic(filepath.Join(dir, f.name), data, fileMode); err != nil {
			return fmt.Errorf("generate demo %s: %w", f.name, err)
		}
	}
	return nil
}

func newGenerator(seed int64) *generator {
	g := &generator{
		rng:  rand.New(rand.NewPCG(uint64(seed), 0x5eed)),
		base: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	total := 0.0
	for _, o := range organizations {
		if !o.inFile {
			continue
		}
		total += 1 / float64(len(g.pickers)+1)
		g.weights = append(g.weights, total)
		g.pickers = append(g.pickers, o)
	}
	return g
}

// chance reports true with probability permille/1000.
func (g *generator) chance(permille int) bool { return g.rng.IntN(1000) < permille }

func (g *generator) pickOrg() org {
	x := g.rng.Float64() * g.weights[len(g.weights)-1]
	for i, w := range g.weights {
		if x < w {
			return g.pickers[i]
		}
	}
	return g.pickers[len(g.pickers)-1]
}

// uuid returns a random UUID v4 string from the generator.
func (g *generator) uuid() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(g.rng.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (g *generator) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.rng.UintN(256))
	}
	return b
}

func pick[T any](g *generator, s []T) T { return s[g.rng.IntN(len(s))] }

// orgIDs renders the trusted metadata of a user in the given organizations: a bare string for
// some single-organization users, a list otherwise.
func (g *generator) orgIDs(keys ...string) string {
	if len(keys) == 1 && g.chance(300) {
		return mustJSON(map[string]any{"org_ids": keys[0]})
	}
	return mustJSON(map[string]any{"org_ids": keys})
}

// user builds the i-th user.
func (g *generator) user(i int) *user {
	u := &user{
		id:        "user-test-" + g.uuid(),
		status:    "active",
		created:   g.base.Add(time.Duration(g.rng.Int64N(4*365*24*3600)) * time.Second),
		untrusted: "{}",
		plain:     true,
	}
	if g.chance(permillePending) {
		u.status = "pending"
	}
	first, last := pick(g, firstNames), pick(g, lastNames)
	local := strings.ToLower(first + "." + last + "." + strconv.Itoa(i))
	if g.chance(permilleUnicode) {
		un := pick(g, unicodeNames)
		first, last = un.first, un.last
		local = un.local + "." + strconv.Itoa(i)
	}
	switch r := g.rng.IntN(20); {
	case r == 0:
		u.name = nil // no name object at all: an empty cell
	case r == 1:
		u.name = &stytch.UserName{FirstName: "  " + first + " ", LastName: last}
	case r < 4:
		u.name = &stytch.UserName{FirstName: first, MiddleName: pick(g, firstNames), LastName: last}
	default:
		u.name = &stytch.UserName{FirstName: first, LastName: last}
	}
	o := g.pickOrg()
	domain := strings.Split(o.domains, ";")[0]
	if g.chance(80) {
		domain = pick(g, personalDomains)
	}
	email := local + "@" + domain
	verified := !g.chance(100)
	u.trusted = g.orgIDs(o.key)

	switch {
	case g.chance(permillePhoneOnly):
		email = ""
		u.plain = false
	case g.chance(permilleInvalidEmail):
		email = pick(g, invalidEmails)
		u.plain = false
	case g.chance(permilleNoOrg):
		u.trusted = pick(g, []string{"", "{}", `{"org_ids":[]}`, `{"org_ids":null}`, `{"team":"none"}`})
		u.plain = false
	case g.chance(permilleUnknownOrg):
		if g.chance(500) {
			u.trusted = g.orgIDs("umbrella")
			u.plain = false
		} else {
			u.trusted = g.orgIDs("umbrella", o.key)
		}
	case g.chance(permilleOversized):
		u.plain = false
		if g.chance(500) {
			u.untrusted = mustJSON(map[string]any{"notes": strings.Repeat("lorem ipsum ", oversizedBytes/12+1)})
		} else {
			m := map[string]any{"org_ids": []string{o.key}}
			for k := range tooManyKeys {
				m[fmt.Sprintf("attr_%02d", k)] = k
			}
			u.trusted = mustJSON(m)
		}
	case g.chance(permilleTwoOrgs):
		other := g.pickOrg()
		if other.key != o.key {
			u.trusted = g.orgIDs(o.key, other.key)
			g.used = append(g.used, membership{email: email, org: other.key, at: u.created})
		}
	case g.chance(permilleDupSameOrg) && len(g.used) > 0:
		// The same person signed up twice in one organization: other letter case or
		// normalization form, another verified flag and created_at.
		prev := g.used[g.rng.IntN(len(g.used))]
		email = variant(prev.email)
		verified = g.chance(500)
		u.trusted = g.orgIDs(prev.org)
		u.plain = false
	case g.chance(permilleDupCrossOrg) && len(g.used) > 0:
		prev := g.used[g.rng.IntN(len(g.used))]
		other := g.pickOrg()
		if other.key != prev.org {
			email = prev.email
			u.trusted = g.orgIDs(other.key)
		}
	}
	if email != "" {
		u.emails = []stytch.UserEmail{{EmailID: "email-test-" + g.uuid(), Email: email, Verified: verified}}
		if g.chance(50) {
			// A second, older address listed first but unverified: the primary is the verified one.
			u.emails = append([]stytch.UserEmail{{EmailID: "email-test-" + g.uuid(),
				Email: "old." + local + "@" + domain, Verified: false}}, u.emails...)
		}
		if u.plain {
			g.used = append(g.used, membership{email: email, org: o.key, at: u.created})
		}
	}
	if email == "" || g.chance(300) {
		u.phones = []stytch.UserPhoneNumber{{PhoneID: "phone-number-test-" + g.uuid(),
			PhoneNumber: fmt.Sprintf("+1415555%04d", g.rng.IntN(10000)), Verified: !g.chance(200)}}
		if g.chance(50) {
			u.phones[0].PhoneNumber = "555-" + strconv.Itoa(1000+g.rng.IntN(9000))
		}
	}
	if g.chance(100) {
		u.providers = []stytch.OAuthProvider{{ProviderType: "Google", ProviderSubject: strconv.FormatInt(g.rng.Int64N(1e15), 10),
			ProfilePictureURL: "https://lh3.googleusercontent.com/a/" + g.uuid(), Locale: "en",
			OAuthUserRegistrationID: "oauth-user-test-" + g.uuid()}}
	}
	if g.chance(20) {
		u.webauthn = []stytch.WebAuthnRegistration{{WebAuthnRegistrationID: "webauthn-registration-test-" + g.uuid(),
			Domain: "app.example.com", UserAgent: "Mozilla/5.0", Verified: true, AuthenticatorType: "platform", Name: "Passkey"}}
	}
	if g.chance(10) {
		u.biometrics = []stytch.BiometricRegistration{{BiometricRegistrationID: "biometric-registration-test-" + g.uuid(), Verified: true}}
	}
	if g.chance(50) {
		u.totps = []stytch.TOTP{{TOTPID: "totp-test-" + g.uuid(), Verified: !g.chance(300)}}
	}
	if g.chance(10) {
		u.wallets = []stytch.CryptoWallet{{CryptoWalletID: "crypto-wallet-test-" + g.uuid(),
			CryptoWalletAddress: "0x" + hex.EncodeToString(g.bytes(20)), CryptoWalletType: "ethereum", Verified: true}}
	}
	if g.chance(400) {
		u.password = &stytch.UserPassword{PasswordID: "password-test-" + g.uuid(), RequiresReset: g.chance(50)}
	}
	if u.untrusted == "{}" && g.chance(200) {
		u.untrusted = mustJSON(map[string]any{"theme": pick(g, []string{"dark", "light"}), "newsletter": g.chance(500)})
	}
	return u
}

// decompositions are accented letters and their NFD spelling, in the order variant tries them.
var decompositions = []struct{ composed, decomposed string }{
	{"ë", "e\u0308"}, {"é", "e\u0301"}, {"ç", "c\u0327"}, {"ü", "u\u0308"},
}

// variant returns the same address as another user would type it: upper-cased first letter, or
// for a non-ASCII address its decomposed (NFD-like) spelling of the first accented letter.
func variant(email string) string {
	for _, d := range decompositions {
		if strings.Contains(email, d.composed) {
			return strings.Replace(email, d.composed, d.decomposed, 1)
		}
	}
	return strings.ToUpper(email[:1]) + email[1:]
}

// usersCSV renders the users as the export utility does.
func (g *generator) usersCSV() ([]byte, error) {
	var buf bytes.Buffer
	header := make([]string, len(exportColumns))
	for i, c := range exportColumns {
		header[i] = quote(c)
	}
	for i, u := range g.users {
		if i%PageSize == 0 {
			buf.WriteString(strings.Join(header, ","))
			buf.WriteByte('\n')
		}
		cells := []string{
			quote(u.id), quote(u.status), quote(u.created.Format(time.RFC3339)),
			jsonCell(u.name), jsonCell(u.emails), jsonCell(u.phones), rawCell(u.trusted), rawCell(u.untrusted),
			jsonCell(u.providers), jsonCell(u.webauthn), jsonCell(u.biometrics), jsonCell(u.totps),
			jsonCell(u.wallets), jsonCell(u.password),
		}
		buf.WriteString(strings.Join(cells, ","))
		buf.WriteByte('\n')
	}
	return buf.Bytes(), nil
}

// quote quotes a string cell the way json2csv does: always, with inner quotes doubled.
func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// rawCell quotes JSON text, or leaves the cell empty for null.
func rawCell(s string) string {
	if s == "" {
		return ""
	}
	return quote(s)
}

// jsonCell renders a nested value as quoted JSON text; nil pointers are null (an empty cell) and
// nil slices are empty lists, as the API returns them.
func jsonCell(v any) string {
	switch x := v.(type) {
	case *stytch.UserName:
		if x == nil {
			return ""
		}
	case *stytch.UserPassword:
		if x == nil {
			return ""
		}
	}
	return quote(mustJSON(v))
}

// mustJSON encodes v compactly without HTML escaping, as JavaScript's JSON.stringify does; nil
// slices become [].
func mustJSON(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("demodata: encode %T: %v", v, err)) // only fixed, encodable types reach here
	}
	s := strings.TrimSuffix(buf.String(), "\n")
	if s == "null" {
		if _, isMap := v.(map[string]any); !isMap {
			return "[]"
		}
	}
	return s
}

// orgsCSV renders orgs.csv, which leaves out the organizations not "in the file".
func orgsCSV() ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write([]string{"org_key", "name", "slug", "allowed_domains"}); err != nil {
		return nil, err
	}
	for _, o := range organizations {
		if !o.inFile {
			continue
		}
		if err := w.Write([]string{o.key, o.name, o.slug, o.domains}); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// hashesCSV renders hashes.csv: fake hashes for some users that become members, by user_id and
// one by email, plus rows the transform must reject.
func (g *generator) hashesCSV() ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(hashColumns); err != nil {
		return nil, err
	}
	row := func(vals map[string]string) error {
		rec := make([]string, len(hashColumns))
		for i, c := range hashColumns {
			rec[i] = vals[c]
		}
		return w.Write(rec)
	}
	var plain, phoneOnly []*user
	for _, u := range g.users {
		switch {
		case u.plain && u.password != nil && u.status == "active" && u.emails[len(u.emails)-1].Verified:
			plain = append(plain, u)
		case len(u.emails) == 0 && u.password != nil:
			phoneOnly = append(phoneOnly, u)
		}
	}
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(g.bytes(n)) }
	const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	bcrypt := func() string {
		var sb strings.Builder
		sb.WriteString("$2b$12$")
		for range 53 {
			sb.WriteByte(bcryptAlphabet[g.rng.IntN(len(bcryptAlphabet))])
		}
		return sb.String()
	}
	makers := []func(u *user) map[string]string{
		func(u *user) map[string]string {
			return map[string]string{"user_id": u.id, "hash_type": "bcrypt", "hash": bcrypt()}
		},
		func(u *user) map[string]string {
			return map[string]string{"user_id": u.id, "hash_type": "scrypt", "hash": b64(32), "salt": b64(16),
				"n_parameter": "16384", "r_parameter": "8", "p_parameter": "1", "key_length": "32"}
		},
		func(u *user) map[string]string {
			return map[string]string{"user_id": u.id, "hash_type": "pbkdf_2", "hash": b64(32), "salt": b64(16),
				"iteration_amount": "600000", "key_length": "32", "algorithm": "sha256"}
		},
		func(u *user) map[string]string {
			return map[string]string{"user_id": u.id, "hash_type": "md_5", "hash": hex.EncodeToString(g.bytes(16)),
				"prepend_salt": hex.EncodeToString(g.bytes(4))}
		},
		func(u *user) map[string]string {
			return map[string]string{"user_id": u.id, "hash_type": "argon_2id",
				"hash": "$argon2id$v=19$m=65536,t=3,p=4$" + strings.TrimRight(b64(16), "=") + "$" + strings.TrimRight(b64(32), "=")}
		},
	}
	const perType = 3
	n := 0
	for _, mk := range makers {
		for range perType {
			if n >= len(plain) {
				break
			}
			if err := row(mk(plain[n])); err != nil {
				return nil, err
			}
			n++
		}
	}
	if n < len(plain) { // keyed by email instead of user_id
		u := plain[n]
		if err := row(map[string]string{"email": u.emails[len(u.emails)-1].Email, "hash_type": "bcrypt", "hash": bcrypt()}); err != nil {
			return nil, err
		}
		n++
	}
	if n < len(plain) { // a hash type Stytch does not migrate
		if err := row(map[string]string{"user_id": plain[n].id, "hash_type": "md4", "hash": hex.EncodeToString(g.bytes(16))}); err != nil {
			return nil, err
		}
		n++
	}
	if n < len(plain) { // a malformed parameter
		if err := row(map[string]string{"user_id": plain[n].id, "hash_type": "scrypt", "hash": b64(32), "salt": b64(16),
			"n_parameter": "16384x", "r_parameter": "8", "p_parameter": "1", "key_length": "32"}); err != nil {
			return nil, err
		}
	}
	if len(phoneOnly) > 0 { // the owner becomes no member
		if err := row(map[string]string{"user_id": phoneOnly[0].id, "hash_type": "bcrypt", "hash": bcrypt()}); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// configYAML is the demo's migrate.yaml; paths are relative to the folder holding it.
const configYAML = `# Demo migration of the bundled sample (see internal/demodata). Generated; do not edit.
source:
  type: export_csv
  path: ./users.csv
organizations:
  strategy: metadata
  metadata_field: trusted_metadata.org_ids
  file: ./orgs.csv
members:
  external_id: default
  oversized_metadata: reject
passwords:
  hashes_file: ./hashes.csv
load:
  rate: 65
`
