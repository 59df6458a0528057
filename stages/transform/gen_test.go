package transform

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// randomUserID returns a canonical Stytch test user id with a random (version 4 shaped) UUID.
func randomUserID(r *rand.Rand) string {
	return fmt.Sprintf("user-test-%08x-%04x-4%03x-%04x-%012x", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xfff, r.Uint32()&0xffff, r.Uint64()&0xffffffffffff)
}

// genParams shape a generated Stytch-like user base.
type genParams struct {
	users int
	orgs  int
	seed  uint64
}

var (
	firstNames = []string{"Ada", "Grace", "Alan", "Zoë", "José", "Mia", "Noah", "Liam", "Emma", "Olivia", "Ava", "Lucas", "Hiro", "Anaïs", "Björn", "Priya"}
	lastNames  = []string{"Lovelace", "Hopper", "Turing", "Müller", "García", "Smith", "Jones", "Nguyen", "Kim", "Rossi", "Dubois", "Novak", "Sato", "Kowalski"}
	domains    = []string{"example.com", "acme.io", "corp.example.org", "mail.test", "gmail.com", "outlook.com", "startup.dev"}
	plans      = []string{"free", "pro", "team", "enterprise"}
)

// genUsers calls emit for p.users generated users: about 1.25 memberships each, ~5% of users
// repeating an earlier user's email (in the same organizations, with other casing), ~1% without
// email and ~0.5% with an invalid one, metadata of 100-300 bytes.
func genUsers(p genParams, emit func(u *schemas.User)) {
	r := rand.New(rand.NewPCG(p.seed, p.seed^0x9e3779b97f4a7c15))
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	span := int64(5 * 365 * 24 * time.Hour / time.Microsecond)
	type prev struct {
		email string
		orgs  []string
	}
	recent := make([]prev, 0, 1024)
	var u schemas.User
	for i := range p.users {
		u = schemas.User{
			UserID:     randomUserID(r),
			Status:     "active",
			CreatedAt:  time.UnixMicro(start + r.Int64N(span)).UTC(),
			FirstName:  firstNames[r.IntN(len(firstNames))],
			LastName:   lastNames[r.IntN(len(lastNames))],
			SourceFile: "users.jsonl", SourcePosition: int64(i + 1),
		}
		if r.IntN(10) == 0 {
			u.MiddleName = firstNames[r.IntN(len(firstNames))]
		}
		if r.IntN(20) == 0 {
			u.Status = "pending"
		}
		if r.IntN(3) == 0 {
			u.ExternalID = fmt.Sprintf("ext-%d", i)
		}
		// Organizations: 80% one, 15% two, 5% three; skewed towards small org numbers.
		n := 1
		switch x := r.IntN(100); {
		case x >= 95:
			n = 3
		case x >= 80:
			n = 2
		}
		orgs := make([]string, n)
		for k := range orgs {
			orgs[k] = fmt.Sprintf("org-%d", int(float64(p.orgs)*r.Float64()*r.Float64()))
		}
		email := fmt.Sprintf("%s.%s%d@%s", strings.ToLower(u.FirstName), strings.ToLower(u.LastName), i, domains[r.IntN(len(domains))])
		if len(recent) > 0 && r.IntN(20) == 0 {
			pr := recent[r.IntN(len(recent))]
			email, orgs = strings.ToUpper(pr.email[:1])+pr.email[1:], pr.orgs
		} else if len(recent) < cap(recent) {
			recent = append(recent, prev{email, orgs})
		} else {
			recent[r.IntN(len(recent))] = prev{email, orgs}
		}
		switch x := r.IntN(200); {
		case x < 2:
		case x < 3:
			u.Emails = []schemas.Email{{EmailID: "email-" + u.UserID, Email: "not-an-email", Verified: false}}
		default:
			u.Emails = []schemas.Email{{EmailID: "email-" + u.UserID, Email: email, Verified: r.IntN(5) != 0}}
			if r.IntN(10) == 0 {
				u.Emails = append(u.Emails, schemas.Email{EmailID: "email2-" + u.UserID, Email: "alt" + email, Verified: false})
			}
		}
		if r.IntN(3) == 0 {
			u.PhoneNumbers = []schemas.PhoneNumber{{PhoneID: "phone-" + u.UserID, PhoneNumber: fmt.Sprintf("+1555%07d", r.IntN(1e7)), Verified: r.IntN(2) == 0}}
		}
		if r.IntN(5) == 0 {
			u.Providers = []schemas.Provider{{ProviderType: "Google", ProviderSubject: fmt.Sprintf("%021d", r.Uint64()), Locale: "en"}}
		}
		var md strings.Builder
		md.WriteString(`{"org_ids":[`)
		for k, o := range orgs {
			if k > 0 {
				md.WriteByte(',')
			}
			fmt.Fprintf(&md, "%q", o)
		}
		fmt.Fprintf(&md, `],"plan":%q,"seats":%d,"region":"eu-west-%d","signup":{"source":"campaign-%d","at":"2024-0%d-1%dT10:00:00Z"}}`,
			plans[r.IntN(len(plans))], r.IntN(500), r.IntN(3), r.IntN(1000), 1+r.IntN(9), r.IntN(10))
		u.TrustedMetadata = md.String()
		if r.IntN(2) == 0 {
			u.UntrustedMetadata = fmt.Sprintf(`{"theme":%q,"locale":"en-US","onboarding":{"step":%d,"done":%t}}`,
				[]string{"dark", "light"}[r.IntN(2)], r.IntN(8), r.IntN(2) == 0)
		}
		emit(&u)
	}
}

// cachedUsersFile returns the path of a users.parquet with p's generated users, generating it
// under os.TempDir the first time.
func cachedUsersFile(tb testing.TB, p genParams) string {
	return cachedFile(tb, fmt.Sprintf("users-v1-%d-%d-%d.parquet", p.users, p.orgs, p.seed), func(f io.Writer) error {
		w, err := schemas.NewWriter(f, schemas.Users, schemas.FileMeta{ToolVersion: "bench", RunID: "bench"})
		if err != nil {
			return err
		}
		genUsers(p, func(u *schemas.User) {
			if err == nil {
				err = w.Append(u)
			}
		})
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		return err
	})
}

// cachedHashesFile returns the path of a hash file for the users of p, generated on first use: a
// bcrypt row per user with an email, keyed by user_id for nine users in ten and by email for the
// tenth.
func cachedHashesFile(tb testing.TB, p genParams) string {
	return cachedUsersCSV(tb, "hashes", p, "user_id,email,hash_type,hash", func(w io.Writer, i int, u *schemas.User) {
		switch {
		case len(u.Emails) == 0:
		case i%10 == 0:
			fmt.Fprintf(w, ",%s,bcrypt,$2b$10$%053d\n", u.Emails[0].Email, i)
		default:
			fmt.Fprintf(w, "%s,,bcrypt,$2b$10$%053d\n", u.UserID, i)
		}
	})
}

// cachedMappingFile returns the path of a mapping file for the users of p, generated on first
// use: a row per organization in each user's metadata (org_ids), keyed by user_id for nine users
// in ten and by email for the tenth (when it has a valid one).
func cachedMappingFile(tb testing.TB, p genParams) string {
	return cachedUsersCSV(tb, "mapping", p, mappingHeader, writeMappingRows)
}

// mappingHeader is the header of the mapping files writeMappingRows writes rows of.
const mappingHeader = "user_id,email,org_key"

// writeMappingRows writes the mapping rows of generated user u, the i-th: a row per organization
// in its metadata, keyed by user_id, or by email when i is a multiple of 10 and u has a valid one.
func writeMappingRows(w io.Writer, i int, u *schemas.User) {
	// genUsers writes the organizations first: {"org_ids":["org-1","org-2"],...
	list, _, _ := strings.Cut(strings.TrimPrefix(u.TrustedMetadata, `{"org_ids":[`), "]")
	email := ""
	if i%10 == 0 && len(u.Emails) > 0 {
		if _, valid, _ := normalizeEmail(u.Emails[0].Email); valid {
			email = u.Emails[0].Email
		}
	}
	for _, q := range strings.Split(list, ",") {
		key := strings.Trim(q, `"`)
		if email != "" {
			fmt.Fprintf(w, ",%s,%s\n", email, key)
		} else {
			fmt.Fprintf(w, "%s,,%s\n", u.UserID, key)
		}
	}
}

// cachedUsersCSV returns the path of a CSV file of kind (cached as kind-v1-<p>.csv) with header,
// then the rows row writes for each generated user of p (i counts them from 1).
func cachedUsersCSV(tb testing.TB, kind string, p genParams, header string, row func(w io.Writer, i int, u *schemas.User)) string {
	return cachedFile(tb, fmt.Sprintf("%s-v1-%d-%d-%d.csv", kind, p.users, p.orgs, p.seed), func(f io.Writer) error {
		w := bufio.NewWriter(f)
		w.WriteString(header + "\n")
		i := 0
		genUsers(p, func(u *schemas.User) {
			i++
			row(w, i, u)
		})
		return w.Flush()
	})
}

// cachedFile returns the path of a benchmark input named name under os.TempDir, which write
// makes the first time (into a temporary file, renamed when complete).
func cachedFile(tb testing.TB, name string, write func(io.Writer) error) string {
	tb.Helper()
	dir := filepath.Join(os.TempDir(), "stytch-migrate-bench")
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		tb.Fatal(err)
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		tb.Fatalf("write %s: %v", path, err)
	}
	return path
}
