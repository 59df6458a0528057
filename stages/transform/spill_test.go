package transform

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/stytch-migrate/stytch-migrate/schemas"
	"github.com/stytch-migrate/stytch-migrate/schemas/schemastest"
)

func TestSpillMatchesInMemory(t *testing.T) {
	var users []schemas.User
	genUsers(genParams{users: 20_000, orgs: 300, seed: 3}, func(u *schemas.User) { users = append(users, *u) })
	cfg := DefaultConfig()
	inMemory := runPlan(t, cfg, writeUsers(t, users))
	if inMemory.res.Details["spilled"] != false {
		t.Fatalf("in-memory run spilled: %v", inMemory.res.Details)
	}
	env := writeUsers(t, users)
	spilled := runPlan(t, cfg, env, WithSpillThreshold(256<<10))
	if spilled.res.Details["spilled"] != true || spilled.res.Details["spill_partitions"].(int) < 2 {
		t.Fatalf("tiny budget did not spill into partitions: %v", spilled.res.Details)
	}
	if _, err := os.Stat(env.Dir.Path(spillDir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("spill folder left behind: %v", err)
	}
	if len(inMemory.members) < 15_000 || len(inMemory.dups) == 0 || len(inMemory.rejects) == 0 {
		t.Fatalf("generator too tame: %v", inMemory.res.Counts)
	}
	a, b := dumps(t, inMemory), dumps(t, spilled)
	for name := range a {
		if a[name] != b[name] {
			t.Errorf("%s differs between the in-memory and the spilled run", name)
		}
	}
	for k, v := range inMemory.res.Counts {
		if spilled.res.Counts[k] != v {
			t.Errorf("count %s: in memory %d, spilled %d", k, v, spilled.res.Counts[k])
		}
	}

	// Users sorted by organization spill the same plan: partitions are hashes of the keys, not
	// ranges of what the first flush saw.
	sorted := slices.Clone(users)
	slices.SortStableFunc(sorted, func(a, b schemas.User) int { return strings.Compare(a.TrustedMetadata, b.TrustedMetadata) })
	sortedRun := runPlan(t, cfg, writeUsers(t, sorted), WithSpillThreshold(256<<10))
	c := dumps(t, sortedRun)
	for name := range a {
		if a[name] != c[name] {
			t.Errorf("%s differs between the in-memory and the sorted input's run", name)
		}
	}

	// Too few partitions for the input (as when the first flush underestimates it): each is
	// split again on read, into up to 8 files in one pass.
	resplit := runPlan(t, cfg, writeUsers(t, users), WithSpillThreshold(256<<10), withPartitions(2))
	if resplit.res.Details["spill_resplits"].(int) == 0 {
		t.Fatalf("two partitions caused no resplit: %v", resplit.res.Details)
	}
	c = dumps(t, resplit)
	for name := range a {
		if a[name] != c[name] {
			t.Errorf("%s differs between the in-memory and the resplit run", name)
		}
	}

	// Split two ways at a time, the oversized partition takes several levels of splits, each
	// writing the data once more.
	deep := runPlan(t, cfg, writeUsers(t, users), WithSpillThreshold(256<<10), withPartitions(2), withSplitFanout(2))
	t.Logf("fanout 2: %v", deep.res.Details)
	if deep.res.Details["spill_resplits"].(int) < 3 {
		t.Fatalf("fanout 2 split only %v times", deep.res.Details["spill_resplits"])
	}
	if got, once := deep.res.Details["spill_bytes"].(int64), resplit.res.Details["spill_bytes"].(int64); got > 6*once {
		t.Errorf("fanout 2 wrote %d spill bytes, fanout 8 %d: not a few passes", got, once)
	}
	e := dumps(t, deep)
	for name := range a {
		if a[name] != e[name] {
			t.Errorf("%s differs between the in-memory and the fanout-2 run", name)
		}
	}
}

// withSplitFanout sets how many files an oversized spill partition is split into at once.
func withSplitFanout(n int) Option { return func(o *options) { o.fanout = n } }

// withPartitions sets the number of spill partitions instead of the estimate.
func withPartitions(n int) Option { return func(o *options) { o.partitions = n } }

// TestSpillFilesAreParquet spills memberships through a store with a one-byte budget and checks
// that its spill files are Parquet files of the spill schema holding exactly those memberships,
// and that reading them back restores every key record.
func TestSpillFilesAreParquet(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	dir := filepath.Join(t.TempDir(), "spill")
	s, err := newStore(1, dir, 3, schemas.FileMeta{ToolVersion: "test", RunID: "r1"}, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer s.cleanup()
	created := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC).UnixMicro()
	users := []struct {
		pl   payload
		orgs []string
	}{
		// A canonical Stytch id (stored packed in memory) in two organizations.
		{payload{userID: "user-test-16fb1a6c-3f1a-4d3c-9a55-0f7e2f4b8c11", email: "a@x.com", extID: "user-test-16fb1a6c-3f1a-4d3c-9a55-0f7e2f4b8c11",
			extSrc: 1, verified: true, created: created, position: 0}, []string{"org-b", "org-a"}},
		// Another id, an external id of its own from metadata, no created_at.
		{payload{userID: "legacy|42", email: "b@x.com", extID: "crm-42", extSrc: 2, created: noCreatedAt, position: 7}, []string{"org-a"}},
		{payload{userID: "user-live-00000000-0000-4000-8000-000000000000", email: "ü@x.com", extID: "e1", extSrc: 0,
			created: -5, position: 1 << 40}, []string{"org-c"}},
	}
	want := map[uint32]keyRecord{}
	var wantRows []schemas.SpillMembership
	orgIndex := map[string]int64{} // organizations are numbered as first seen
	for seq, u := range users {
		var b localBatch
		b.reset(int64(seq))
		h := newRecordHead(&u.pl)
		b.buf = appendKeyRecord(b.buf, &u.pl, &h)
		for _, org := range u.orgs {
			b.keys, b.offs = append(b.keys, org), append(b.offs, 0)
			if _, seen := orgIndex[org]; !seen {
				orgIndex[org] = int64(len(orgIndex))
			}
			row := schemas.SpillMembership{OrgKey: org, OrgIndex: orgIndex[org], MembershipID: int64(len(want)), SourceUserID: u.pl.userID,
				EmailAddress: u.pl.email, EmailVerified: u.pl.verified, ExternalIDSource: extSourceNames[u.pl.extSrc],
				SourcePosition: u.pl.position}
			if u.pl.created != noCreatedAt {
				row.CreatedAt = time.UnixMicro(u.pl.created).UTC()
			}
			if u.pl.extID != u.pl.userID {
				row.ExternalID = u.pl.extID
			}
			wantRows = append(wantRows, row)
			want[uint32(len(want))] = keyRecord{created: u.pl.created, position: u.pl.position, verified: u.pl.verified,
				extSrc: u.pl.extSrc, userID: u.pl.userID, email: u.pl.email, extID: u.pl.extID}
		}
		if err := s.add(&b, 1); err != nil {
			t.Fatal(err)
		}
	}
	if !s.spilled() {
		t.Fatal("a one-byte budget did not spill")
	}

	files, err := filepath.Glob(filepath.Join(dir, "part-*.parquet"))
	if err != nil || len(files) != 4 { // one file per flush and partition with memberships
		t.Fatalf("spill files %v (%v), want 4", files, err)
	}
	var got []schemas.SpillMembership
	for _, f := range files {
		rows, err := schemas.ReadAll(f, schemas.SpillMemberships, schemas.WithReaderAllocator(mem))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rows...)
	}
	slices.SortFunc(got, func(a, b schemas.SpillMembership) int { return int(a.MembershipID - b.MembershipID) })
	if !reflect.DeepEqual(got, wantRows) {
		t.Fatalf("spill rows:\n%+v\nwant\n%+v", got, wantRows)
	}

	orgCall := map[string]int{} // the partitions call that saw each organization
	calls := 0
	err = s.partitions(context.Background(), func(entries []entry, mem *arena) error {
		calls++
		for _, e := range entries {
			var k keyRecord
			var scratch []byte
			decodeKeyRecord(mem.get(e.ref), &k, &scratch)
			if k != want[e.gid] {
				t.Errorf("membership %d read back as %+v, want %+v", e.gid, k, want[e.gid])
			}
			key := s.dict.key(e.org)
			if c, seen := orgCall[key]; seen && c != calls {
				t.Errorf("organization %s in two partitions", key)
			}
			orgCall[key] = calls
			if p := s.orgPart[e.org]; int(p) != partitionOf(key, len(s.spill.parts)) {
				t.Errorf("organization %s in partition %d, its hash says %d", key, p, partitionOf(key, len(s.spill.parts)))
			}
			delete(want, e.gid)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 0 {
		t.Errorf("memberships never read back: %v", want)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "part-*")); len(left) != 0 {
		t.Errorf("spill files left after reading: %v", left)
	}
	if len(orgCall) != 3 {
		t.Errorf("organizations read back %v, want 3", orgCall)
	}
}

// TestPartitionOf checks that organization keys spread evenly over the partitions, and that a
// key's partition depends on the key alone.
func TestPartitionOf(t *testing.T) {
	const n, keys = 13, 130_000
	counts := make([]int, n)
	for i := range keys {
		k := fmt.Sprintf("org-%d", i)
		p := partitionOf(k, n)
		if p != partitionOf(strings.Clone(k), n) {
			t.Fatalf("partitionOf(%q) is not stable", k)
		}
		counts[p]++
	}
	for p, c := range counts {
		if c < keys/n*9/10 || c > keys/n*11/10 {
			t.Errorf("partition %d has %d keys, want %d ±10%%: %v", p, c, keys/n, counts)
		}
	}
}

// TestSpillFileOfAnotherRunFails checks that a spill file whose rows are not the memberships this
// run spilled (here: a membership id out of range) stops the stage with an error naming the file
// and the row, instead of deciding on wrong data.
func TestSpillFileOfAnotherRunFails(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	dir := filepath.Join(t.TempDir(), "spill")
	s, err := newStore(1, dir, 1, schemas.FileMeta{ToolVersion: "test", RunID: "r1"}, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer s.cleanup()
	pl := payload{userID: "user-1", email: "a@x.com", extID: "user-1", extSrc: 1, created: noCreatedAt}
	var b localBatch
	b.reset(0)
	h := newRecordHead(&pl)
	b.buf = appendKeyRecord(b.buf, &pl, &h)
	b.keys, b.offs = append(b.keys, "org-a"), append(b.offs, 0)
	if err := s.add(&b, 1); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "part-*.parquet"))
	if len(files) != 1 {
		t.Fatalf("spill files %v, want 1", files)
	}
	schemastest.WriteFile(t, files[0], schemas.SpillMemberships, schemas.FileMeta{ToolVersion: "test", RunID: "other"}, []schemas.SpillMembership{
		{OrgKey: "org-a", MembershipID: 0, SourceUserID: "user-1", EmailAddress: "a@x.com", ExternalIDSource: "user_id"},
		{OrgKey: "org-a", MembershipID: 7, SourceUserID: "user-2", EmailAddress: "b@x.com", ExternalIDSource: "user_id"},
	})
	err = s.partitions(context.Background(), func([]entry, *arena) error { return nil })
	if err == nil || !strings.Contains(err.Error(), files[0]) || !strings.Contains(err.Error(), "row 2") {
		t.Fatalf("err = %v, want one naming %s and row 2", err, files[0])
	}
}
