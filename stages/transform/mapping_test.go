package transform

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// withMappingBytes lets the mapping file's index take limit bytes.
func withMappingBytes(limit int64) Option {
	return func(o *options) { o.mapping.limit = limit }
}

// withMappingJoin joins the mapping file in parts partitions, splitting those whose index would
// pass half of limit, down to files of splitFloor bytes (0: the defaults).
func withMappingJoin(limit int64, parts int, splitFloor int64) Option {
	return func(o *options) { o.mapping = joinOptions{limit: limit, parts: parts, splitFloor: splitFloor} }
}

// TestMappingIndexMatchesMaps reads a mapping file with every kind of owner (canonical Stytch
// user ids, the same ids in upper case, which are other users, ids of other shapes, emails in
// any case), owners with several rows, rows repeated and rows whose email is a user id's text,
// and checks every lookup against plain maps of the file's rows, order included.
func TestMappingIndexMatchesMaps(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var (
		ids    []string
		emails []string
		file   strings.Builder
	)
	for i := range 300 {
		id := randomUserID(r)
		ids = append(ids, id, strings.ToUpper(id), fmt.Sprintf("u%d", i), "user-test-"+id[10:20])
		emails = append(emails, fmt.Sprintf("Person%d@Example.COM", i))
	}
	byUser, byEmail := map[string][]string{}, map[string][]string{}
	file.WriteString("email,org_key,user_id\n")
	for range 5000 {
		key := fmt.Sprintf("org-%d", r.IntN(40))
		if r.IntN(3) == 0 {
			e := emails[r.IntN(len(emails))]
			norm, _, _ := normalizeEmail(e)
			byEmail[norm] = append(byEmail[norm], key)
			fmt.Fprintf(&file, "%s,%s,\n", e, key)
			continue
		}
		id := ids[r.IntN(len(ids))]
		byUser[id] = append(byUser[id], key)
		// A row with both columns is keyed by its user id.
		fmt.Fprintf(&file, "%s,%s,%s\n", []string{"", "ignored@x.io"}[r.IntN(2)], key, id)
	}
	m, over, err := readMappingFile(writeFile(t, "map.csv", file.String()), 0, nil)
	if err != nil || over != nil {
		t.Fatal(err, over)
	}
	if m.rows() != 5000 {
		t.Fatalf("rows = %d, want 5000", m.rows())
	}
	for _, id := range append(ids, "absent", "user-test-00000000-0000-4000-8000-000000000000") {
		if got := m.appendUserKeys(nil, id); !slices.Equal(got, byUser[id]) {
			t.Fatalf("user %s: keys %v, want %v", id, got, byUser[id])
		}
	}
	for _, e := range append(emails, "absent@x.io", "ignored@x.io") {
		norm, _, _ := normalizeEmail(e)
		if got := m.appendEmailKeys([]string{"before"}, norm); !slices.Equal(got, append([]string{"before"}, byEmail[norm]...)) {
			t.Fatalf("email %s: keys %v, want %v after before", norm, got, byEmail[norm])
		}
	}
}

// TestMappingPresize fills an index with a quarter of a file's rows, presizes it for the whole
// file, and checks that the other three quarters, alike, move no array and grow no owner table;
// and that an index whose presized size would pass its limit is left as it is.
func TestMappingPresize(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	fill := func(m *mapping, from, n int) {
		for i := from; i < from+n; i++ {
			key := fmt.Sprintf("org-%d", r.IntN(50))
			switch i % 3 {
			case 0:
				m.add(mapPackedID, randomUserID(r), key) // not packed here: only its length matters
			case 1:
				m.add(mapOtherID, fmt.Sprintf("legacy-%d", i), key)
			default:
				m.add(mapEmail, fmt.Sprintf("person%d@example.com", i), key)
			}
		}
	}
	m := newMapping()
	fill(m, 0, 4096)
	m.presize(0.25, 0)
	org, tables := &m.org[:1][0], [mapKinds]int{}
	for k, o := range m.owners {
		tables[k] = len(o.dict.table)
	}
	fill(m, 4096, 3*4096)
	if &m.org[0] != org {
		t.Error("the rows' organizations moved after presize")
	}
	for k, o := range m.owners {
		if len(o.dict.table) != tables[k] || cap(o.first) < o.dict.len() {
			t.Errorf("owners of kind %d: table of %d slots, %d before; %d owners", k, len(o.dict.table), tables[k], o.dict.len())
		}
	}

	small := newMapping()
	fill(small, 0, 4096)
	before := small.size()
	small.presize(0.25, 2*before)
	if small.size() != before {
		t.Errorf("presized to %d bytes past a limit of %d", small.size(), 2*before)
	}
}

// TestMappingPlansAsMetadata plans generated users twice: by the organizations in their
// metadata, and by a mapping file of the same organizations (keyed by user id, and by email for
// one user in ten) read by two workers over many batches. The plans must be the same.
func TestMappingPlansAsMetadata(t *testing.T) {
	var (
		users []schemas.User
		file  strings.Builder
	)
	file.WriteString(mappingHeader + "\n")
	genUsers(genParams{users: 3000, orgs: 60, seed: 3}, func(u *schemas.User) {
		users = append(users, *u)
		writeMappingRows(&file, len(users), u)
	})
	env := writeUsers(t, users, schemas.WithRowGroupRows(250))
	byMetadata := runPlan(t, DefaultConfig(), env)
	cfg := DefaultConfig()
	cfg.Organizations.Strategy = StrategyMapping
	cfg.Organizations.MappingFile = writeFile(t, "map.csv", file.String())
	byMapping := runPlan(t, cfg, env, WithWorkers(2))
	if len(byMetadata.members) < 3000 || len(byMetadata.dups) == 0 {
		t.Fatalf("%d members, %d duplicates: the input does not test much", len(byMetadata.members), len(byMetadata.dups))
	}
	// Every row names a user (the email rows only valid primary emails).
	if n, ok := byMapping.res.Counts[CountMappingUnmatched]; !ok || n != 0 {
		t.Fatalf("unmatched mapping rows: %d (counted: %t), want 0", n, ok)
	}
	metadataCounts := maps.Clone(byMapping.res.Counts)
	delete(metadataCounts, CountMappingUnmatched)
	sameDumps(t, "metadata", byMetadata, "mapping", planOut{res: &pipeline.Result{Counts: metadataCounts},
		orgs: byMapping.orgs, members: byMapping.members, dups: byMapping.dups, rejects: byMapping.rejects})

	// The same file joined with the users partition by partition, past its share of memory.
	for _, limit := range []int64{32 << 10, 96 << 10} {
		joined := runPlan(t, cfg, env, withMappingBytes(limit))
		sameDumps(t, "mapping", byMapping, fmt.Sprintf("mapping joined at %d bytes", limit), joined)
		if parts, _ := joined.res.Details["mapping_partitions"].(int); parts < 2 {
			t.Fatalf("at %d bytes: details %v, want the join", limit, joined.res.Details)
		}
	}
}

// sameDumps fails unless plans a and b (named na and nb) have the same rows in every file.
func sameDumps(t *testing.T, na string, a planOut, nb string, b planOut) {
	t.Helper()
	da, db := dumps(t, a), dumps(t, b)
	for name := range da {
		if da[name] != db[name] {
			t.Fatalf("%s: %s and %s differ:\n%s\nvs\n%s", name, na, nb, da[name], db[name])
		}
	}
}

// TestMappingJoinMatchesIndex plans users with every kind of mapping row through the in-memory
// index and through the join at several partition counts: users keyed by user id (canonical,
// in upper case, other shapes), by email in another case, by both (the user id's keys come
// first), listed twice, with an invalid or no email, users the file does not name and rows of
// users that do not exist.
func TestMappingJoinMatchesIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	var (
		users []schemas.User
		file  strings.Builder
		// unmatched are the rows naming nobody's user id, or an email that is nobody's valid
		// primary email, as mapping_unmatched.parquet must list them.
		unmatched []schemas.UnmatchedMappingRow
		line      = int64(1)
	)
	file.WriteString("org_key,user_id,email\n")
	row := func(id, email string, matched bool) {
		org := fmt.Sprintf("org-%d", r.IntN(30))
		fmt.Fprintf(&file, "%s,%s,%s\n", org, id, email)
		line++
		if !matched {
			by := "user_id"
			if id == "" {
				by = "email"
			}
			unmatched = append(unmatched, schemas.UnmatchedMappingRow{Line: line, MatchedBy: by, UserID: id, Email: email, OrgKey: org})
		}
	}
	for i := range 1500 {
		id := randomUserID(r)
		switch i % 5 {
		case 1:
			id = strings.ToUpper(id)
		case 2:
			id = fmt.Sprintf("legacy-%d", i)
		}
		email := fmt.Sprintf("user%d@corp%d.example", i, i%7)
		u := user(id, email, i%3 != 0)
		switch i % 11 {
		case 3:
			u.Emails = nil
		case 4:
			u.Emails[0].Email = "not an email"
		}
		users = append(users, u)
		validEmail := i%11 != 3 && i%11 != 4
		switch i % 6 {
		case 0, 1:
			row(id, "", true)
			row(id, "", true)
		case 2:
			row("", strings.ToUpper(email), validEmail)
		case 3:
			row("", email, validEmail)
			row(id, "ignored@x.io", true)
		case 4:
			row(randomUserID(r), "", false) // nobody's
		}
	}
	r.Shuffle(len(users), func(i, j int) { users[i], users[j] = users[j], users[i] })
	cfg := DefaultConfig()
	cfg.Organizations.Strategy = StrategyMapping
	cfg.Organizations.MappingFile = writeFile(t, "map.csv", file.String())
	env := writeUsers(t, users, schemas.WithRowGroupRows(100))
	indexed := runPlan(t, cfg, env)
	if len(indexed.members) < 700 || len(indexed.rejects) < 300 {
		t.Fatalf("%d members, %d rejects: the input does not test much", len(indexed.members), len(indexed.rejects))
	}
	checkUnmatched(t, "indexed", indexed, unmatched)
	for _, limit := range []int64{16 << 10, 48 << 10} {
		for _, workers := range []int{1, 2} {
			joined := runPlan(t, cfg, env, withMappingBytes(limit), WithWorkers(workers))
			sameDumps(t, "indexed", indexed, fmt.Sprintf("joined at %d bytes, %d workers", limit, workers), joined)
			if parts, _ := joined.res.Details["mapping_partitions"].(int); parts < 2 {
				t.Fatalf("details %v, want the join", joined.res.Details)
			}
			checkUnmatched(t, "joined", joined, unmatched)
			if entries, err := os.ReadDir(env.Dir.Path(spillDir)); err == nil {
				t.Fatalf("spill folder left behind: %v", entries)
			}
		}
	}
}

// TestMappingJoinSplits joins a mapping file whose start is unlike the rest, so that the
// partition count estimated from it is far too low: a few users with a hundred rows each, keyed
// by user id (cheap to index), then one row per user keyed by email (dearer), and rows of
// nobody. Partitions whose index passes half the share must be split while loading, keeping
// the largest index within the share, and the plan must be the one of the in-memory index, also
// without splits.
func TestMappingJoinSplits(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	var (
		users     []schemas.User
		file      strings.Builder
		unmatched []schemas.UnmatchedMappingRow
	)
	file.WriteString("user_id,email,org_key\n")
	line := int64(1)
	for i := range 2000 {
		id, email := randomUserID(r), fmt.Sprintf("member.%d@company%d.example", i, i%13)
		users = append(users, user(id, email, true))
		rows := 1
		if i < 10 {
			rows = 100
		}
		for k := range rows {
			org := fmt.Sprintf("org-%d", (i+k)%100)
			if i < 10 {
				fmt.Fprintf(&file, "%s,,%s\n", id, org)
			} else {
				fmt.Fprintf(&file, ",%s,%s\n", email, org)
			}
			line++
		}
		if i%400 == 399 {
			nobody := fmt.Sprintf("nobody.%d@company.example", i)
			fmt.Fprintf(&file, ",%s,org-1\n", nobody)
			line++
			unmatched = append(unmatched, schemas.UnmatchedMappingRow{Line: line, MatchedBy: "email", Email: nobody, OrgKey: "org-1"})
		}
	}
	cfg := DefaultConfig()
	cfg.Organizations.Strategy = StrategyMapping
	cfg.Organizations.MappingFile = writeFile(t, "map.csv", file.String())
	env := writeUsers(t, users, schemas.WithRowGroupRows(300))
	indexed := runPlan(t, cfg, env)
	checkUnmatched(t, "indexed", indexed, unmatched)

	const limit = 8 << 10
	details := func(out planOut) (parts int, peak int64) {
		parts, _ = out.res.Details["mapping_partitions"].(int)
		peak, _ = out.res.Details["mapping_partition_peak_bytes"].(int64)
		return parts, peak
	}
	unsplit := runPlan(t, cfg, env, withMappingJoin(limit, 0, 1<<40))
	sameDumps(t, "indexed", indexed, "joined without splits", unsplit)
	unsplitParts, unsplitPeak := details(unsplit)
	if unsplitParts < 2 || unsplitPeak <= limit {
		t.Fatalf("without splits: %d partitions, largest index %d bytes: want the join, over %d bytes (the estimate too low)",
			unsplitParts, unsplitPeak, limit)
	}
	for _, workers := range []int{1, 2} {
		split := runPlan(t, cfg, env, withMappingJoin(limit, 0, 1), WithWorkers(workers))
		sameDumps(t, "indexed", indexed, fmt.Sprintf("joined with splits, %d workers", workers), split)
		checkUnmatched(t, "joined with splits", split, unmatched)
		// Half the share per partition, and the growth of its arrays past the last check.
		if parts, peak := details(split); parts <= unsplitParts || peak > limit {
			t.Fatalf("with splits: %d partitions (%d without), largest index %d bytes: want more, within %d",
				parts, unsplitParts, peak, limit)
		}
		if entries, err := os.ReadDir(env.Dir.Path(spillDir)); err == nil {
			t.Fatalf("spill folder left behind: %v", entries)
		}
	}
}

// progressRecord is what a recorded progress report was told.
type progressRecord struct {
	unit         string
	total, added int64
	done         int
}

// recordProgress returns a progress factory recording every report by label into got.
func recordProgress(mu *sync.Mutex, got map[string]*progressRecord) pipeline.ProgressFactory {
	return func(label, unit string) pipeline.Progress {
		mu.Lock()
		defer mu.Unlock()
		r := &progressRecord{unit: unit}
		got[label] = r
		return &recorded{mu: mu, r: r}
	}
}

type recorded struct {
	mu *sync.Mutex
	r  *progressRecord
}

func (p *recorded) Add(n int64)      { p.mu.Lock(); p.r.added += n; p.mu.Unlock() }
func (p *recorded) SetTotal(n int64) { p.mu.Lock(); p.r.total = n; p.mu.Unlock() }
func (p *recorded) Done()            { p.mu.Lock(); p.r.done++; p.mu.Unlock() }

// TestMappingProgress checks the progress reports of a mapping file read in memory, then joined:
// the bytes of the file, read whole, and the partitions matched, each report ended once.
func TestMappingProgress(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	var (
		users []schemas.User
		file  strings.Builder
	)
	// Many more rows than the CSV parser reads ahead (csvAheadBatches of csvAheadRecords), so
	// the first read stops partway.
	const n = 20000
	file.WriteString("user_id,org_key\n")
	for i := range n {
		id := randomUserID(r)
		users = append(users, user(id, fmt.Sprintf("p%d@x.example", i), true))
		fmt.Fprintf(&file, "%s,org-%d\n", id, i%40)
	}
	cfg := DefaultConfig()
	cfg.Organizations.Strategy = StrategyMapping
	cfg.Organizations.MappingFile = writeFile(t, "map.csv", file.String())
	size := int64(file.Len())
	for _, limit := range []int64{0, 64 << 10} {
		env := writeUsers(t, users, schemas.WithRowGroupRows(1000))
		var mu sync.Mutex
		got := map[string]*progressRecord{}
		env.Progress = recordProgress(&mu, got)
		out := runPlan(t, cfg, env, withMappingBytes(limit))
		want := map[string]progressRecord{
			"read mapping file": {unit: "bytes", total: size, added: size, done: 1},
			"transform users":   {unit: "users", total: n, added: n, done: 1},
		}
		if limit > 0 {
			parts, _ := out.res.Details["mapping_partitions"].(int)
			if parts < 2 {
				t.Fatalf("details %v, want the join", out.res.Details)
			}
			// The first read stops where the index passed its share.
			want["read mapping file"] = progressRecord{unit: "bytes", total: size, added: got["read mapping file"].added, done: 1}
			if a := got["read mapping file"].added; a <= 0 || a >= size {
				t.Errorf("first read counted %d bytes of %d, want part of them", a, size)
			}
			want["partition mapping file"] = progressRecord{unit: "bytes", total: size, added: size, done: 1}
			want["join mapping partitions"] = progressRecord{unit: "partitions", total: int64(parts), added: int64(parts), done: 1}
		}
		for label, w := range want {
			if g := got[label]; g == nil || *g != w {
				t.Errorf("limit %d: progress %q = %+v, want %+v", limit, label, g, w)
			}
		}
		if len(got) != len(want) {
			t.Errorf("limit %d: progress reports %v, want %d", limit, slices.Sorted(maps.Keys(got)), len(want))
		}
	}
}

// checkUnmatched fails unless plan out (named name) counted exactly the rows want and listed
// them in the file's order.
func checkUnmatched(t *testing.T, name string, out planOut, want []schemas.UnmatchedMappingRow) {
	t.Helper()
	if got := out.res.Counts[CountMappingUnmatched]; got != int64(len(want)) {
		t.Fatalf("%s: %d unmatched rows counted, want %d", name, got, len(want))
	}
	// In the file's order.
	if !slices.Equal(out.unmatched, want) {
		t.Fatalf("%s: mapping_unmatched.parquet lists\n%v\nwant\n%v", name, out.unmatched, want)
	}
}

// TestMappingJoinBadRow checks that a bad row past the point where the index passed its share is
// reported as from the in-memory index: file, line, column, exit code 4, nothing written.
func TestMappingJoinBadRow(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	var file strings.Builder
	file.WriteString("user_id,email,org_key\n")
	for i := range 5000 {
		fmt.Fprintf(&file, "%s,,org-%d\n", randomUserID(r), i%50)
	}
	file.WriteString(",not-an-email,org-1\n")
	cfg := DefaultConfig()
	cfg.Organizations.Strategy = StrategyMapping
	cfg.Organizations.MappingFile = writeFile(t, "map.csv", file.String())
	env := writeUsers(t, []schemas.User{user("u1", "a@x.io", true, "a")})
	for _, limit := range []int64{0, 64 << 10} {
		_, err := tryPlan(t, cfg, env, withMappingBytes(limit))
		if want := "map.csv: line 5002, column 2 (email): invalid email"; err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("limit %d: err = %v, want it to contain %q", limit, err, want)
		}
		if pipeline.ExitCode(err) != pipeline.ExitConfig {
			t.Fatalf("limit %d: exit code %d", limit, pipeline.ExitCode(err))
		}
		if _, err := os.Stat(env.Dir.Path(schemas.Members.Path())); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("limit %d: members file written after an error: %v", limit, err)
		}
	}
}
