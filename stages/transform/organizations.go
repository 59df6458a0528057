package transform

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// Slug limits and sources.
const (
	minSlugLen = 2
	maxSlugLen = 128
	// SlugFromFile, SlugDerived and SlugDerivedUnique are the values of Organization.SlugSource.
	SlugFromFile      = "file"
	SlugDerived       = "derived"
	SlugDerivedUnique = "derived_unique"
)

// orgRow is one row of the organizations file.
type orgRow struct {
	key, name, slug string
	domains         []string
	line            int
}

// readOrganizationsFile reads the organizations CSV (org_key,name,slug,allowed_domains;
// header-based, extra columns ignored, ";" between domains). Keys and slugs must be valid and
// unique; the error names the file, line and column.
func readOrganizationsFile(path string) (map[string]*orgRow, error) {
	t, err := openCSV(path, nil, []string{"org_key"})
	if err != nil {
		return nil, fmt.Errorf("read organizations file: %w", err)
	}
	defer t.close()
	rows := map[string]*orgRow{}
	slugs := map[string]int{}
	for {
		ok, err := t.next()
		if err != nil {
			return nil, fmt.Errorf("read organizations file: %w", err)
		}
		if !ok {
			return rows, nil
		}
		// The rows are kept: their values are copied out of the reader's buffer.
		row := &orgRow{key: strings.Clone(t.get("org_key")), name: strings.Clone(t.get("name")),
			slug: strings.Clone(t.get("slug")), line: t.line()}
		switch {
		case row.key == "":
			return nil, t.errorf("org_key", "empty org_key")
		case !validOrgKey(row.key):
			return nil, t.errorf("org_key", "%q is not a valid organization external id (1-128 characters of [A-Za-z0-9._|-])", row.key)
		}
		if prev, dup := rows[row.key]; dup {
			return nil, t.errorf("org_key", "org_key %q already on line %d", row.key, prev.line)
		}
		if row.slug != "" {
			if why := slugProblem(row.slug); why != "" {
				return nil, t.errorf("slug", "slug %q %s", row.slug, why)
			}
			lower := strings.ToLower(row.slug)
			if prev, dup := slugs[lower]; dup {
				return nil, t.errorf("slug", "slug %q already on line %d", row.slug, prev)
			}
			slugs[lower] = row.line
		}
		for d := range strings.SplitSeq(strings.Clone(t.get("allowed_domains")), ";") {
			if d = strings.ToLower(strings.TrimSpace(d)); d != "" && !slices.Contains(row.domains, d) {
				row.domains = append(row.domains, d)
			}
		}
		rows[row.key] = row
	}
}

// slugProblem says why s is not a valid Stytch organization slug, or "".
func slugProblem(s string) string {
	if len(s) < minSlugLen || len(s) > maxSlugLen {
		return "must be 2-128 characters"
	}
	alnum := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			alnum = true
		case c == '-' || c == '.' || c == '_' || c == '~':
		default:
			return "may only hold alphanumerics and - . _ ~"
		}
	}
	if !alnum {
		return "needs at least one alphanumeric character"
	}
	return ""
}

// deriveSlug makes a slug from a name: lower-case, every run of characters other than a-z and
// 0-9 becomes one "-", no "-" at either end, at most 128 characters. The result may be shorter
// than 2 characters; see planSlugs.
func deriveSlug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			if b.Len() >= maxSlugLen {
				break
			}
			continue
		}
		dash = true
	}
	return b.String()
}

// planSlugs assigns every organization its slug: the file's slug when given, else one derived
// from its name (then from its key, then "org-<hash of key>" when those give fewer than 2
// characters). Derived slugs that clash with a slug already taken (file slugs first, then
// derived ones in org_key order; compared case-insensitively) get the smallest suffix "-2",
// "-3", ... that makes them unique. orgs must be sorted by key.
func planSlugs(orgs []schemas.Organization, fileSlugs map[string]string) {
	taken := map[string]bool{}
	for _, s := range fileSlugs {
		taken[strings.ToLower(s)] = true
	}
	for i := range orgs {
		o := &orgs[i]
		if s, ok := fileSlugs[o.OrgKey]; ok && s != "" {
			o.Slug, o.SlugSource = s, SlugFromFile
			continue
		}
		base := deriveSlug(o.Name)
		if len(base) < minSlugLen {
			base = deriveSlug(o.OrgKey)
		}
		if len(base) < minSlugLen {
			h := fnv.New32a()
			h.Write([]byte(o.OrgKey))
			base = fmt.Sprintf("org-%08x", h.Sum32())
		}
		slug, source := base, SlugDerived
		for n := 2; taken[slug]; n++ {
			suffix := "-" + strconv.Itoa(n)
			slug = strings.TrimRight(base[:min(len(base), maxSlugLen-len(suffix))], "-") + suffix
			source = SlugDerivedUnique
		}
		taken[slug] = true
		o.Slug, o.SlugSource = slug, source
	}
}
