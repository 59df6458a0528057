package transform

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// withPasswordSpill makes the hash file's index go to parts partition files (0: the estimate)
// past limit bytes, and lets partition files of splitFloor bytes and more be split (0: the
// default floor).
func withPasswordSpill(limit int64, parts int, splitFloor int64) Option {
	return func(o *options) { o.passwords = joinOptions{limit: limit, parts: parts, splitFloor: splitFloor} }
}

// TestPasswordJoinMatchesInMemory runs a hash file with every kind of row (user_id and email
// rows, a user with both, owners with several rows on both sides of the point where the index
// passes its budget, rows of users that are rejected, merged away or absent, malformed rows)
// through the in-memory index and through the partitioned join, at several partition counts:
// every output must be the same.
func TestPasswordJoinMatchesInMemory(t *testing.T) {
	var users []schemas.User
	genUsers(genParams{users: 3000, orgs: 40, seed: 11}, func(u *schemas.User) { users = append(users, *u) })
	r := rand.New(rand.NewPCG(3, 4))
	var b strings.Builder
	b.WriteString("user_id,email,hash_type,hash,salt,iteration_amount,key_length,algorithm\n")
	row := func(id, email string) {
		switch r.IntN(3) {
		case 0:
			fmt.Fprintf(&b, "%s,%s,bcrypt,$2b$10$%08x,,,,\n", id, email, r.Uint32())
		case 1:
			fmt.Fprintf(&b, "%s,%s,pbkdf_2,aGFzaA==,c2FsdA==,%d,32,sha256\n", id, email, 1000+r.IntN(1000))
		default:
			fmt.Fprintf(&b, "%s,%s,md_5,%08x,,,,\n", id, email, r.Uint32())
		}
	}
	email := func(u *schemas.User) string {
		if len(u.Emails) == 0 {
			return ""
		}
		return strings.ToUpper(u.Emails[0].Email)
	}
	// Users 10 and 30 get a second row early, so that their owners are ambiguous before the
	// index passes its budget; user 10 gets a third row at the end.
	row(users[10].UserID, "")
	row(users[30].UserID, "")
	for i := range users {
		u := &users[i]
		switch i % 10 {
		case 0, 1, 2, 3:
			row(u.UserID, "")
		case 4:
			row("", email(u))
		case 5:
			row(u.UserID, "")
			row("", email(u)) // loses to the user_id row
		case 6:
			if i%20 == 6 {
				row(u.UserID, "") // ambiguous: a second row comes at the end of the file
			}
		case 7:
			row("missing-"+u.UserID, "")
		case 8:
			fmt.Fprintf(&b, "%s,,rot13,x,,,,\n", u.UserID)
		}
	}
	row(users[10].UserID, "")
	for i := 6; i < len(users); i += 20 {
		row(users[i].UserID, "")
		row(users[i].UserID, "")
	}
	cfg := DefaultConfig()
	cfg.Passwords.HashesFile = writeFile(t, "hashes.csv", b.String())
	inMemory := runPlan(t, cfg, writeUsers(t, users))
	if _, ok := inMemory.res.Details["password_partitions"]; ok {
		t.Fatalf("in-memory run partitioned the hash file: %v", inMemory.res.Details)
	}
	c := inMemory.res.Counts
	if c[CountPasswords] < int64(len(users)/2) || c[countRejectPrefix+ReasonAmbiguousPassword] == 0 ||
		c[countRejectPrefix+ReasonPasswordOwnerNotMigrated] == 0 || c[countRejectPrefix+ReasonUnknownHashType] == 0 ||
		c[CountDuplicates] == 0 {
		t.Fatalf("the input misses a case: %v", c)
	}
	want := dumps(t, inMemory)
	for _, tc := range []struct {
		name       string
		limit      int64
		parts      int
		splitFloor int64
		// leaves is how many partitions are to be matched: exactly, or at least when split.
		leaves int
		split  bool
	}{
		{"estimate", 128 << 10, 0, 0, 0, false},
		{"one partition, split once", 16 << 10, 1, 0, 2, true},
		{"from the first row", 1, 7, 0, 7, false},
		{"from the first row, split twice", 1, 7, 1 << 10, 7 * joinSplitFanout * 2, true},
		{"split to the bound", 256 << 10, 2, 1, 2 * joinSplitFanout, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := writeUsers(t, users)
			got := runPlan(t, cfg, env, withPasswordSpill(tc.limit, tc.parts, tc.splitFloor))
			leaves, _ := got.res.Details["password_partitions"].(int)
			peak, _ := got.res.Details["password_partition_peak_bytes"].(int64)
			if leaves == 0 || tc.leaves != 0 && (!tc.split && leaves != tc.leaves || tc.split && leaves < tc.leaves) {
				t.Fatalf("password partitions %v, want %d (split %v)", got.res.Details, tc.leaves, tc.split)
			}
			if tc.splitFloor == 1 && peak > tc.limit/joinWorkers {
				t.Errorf("a partition's index took %d bytes, over half the %d-byte share", peak, tc.limit)
			}
			t.Logf("%d partitions, largest index %d bytes", leaves, peak)
			if _, err := os.Stat(env.Dir.Path(spillDir)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("spill folder left behind: %v", err)
			}
			for name, text := range dumps(t, got) {
				if text != want[name] {
					t.Errorf("%s differs from the in-memory run", name)
				}
			}
		})
	}
}

// TestJoinFilesCut checks that a partition, probes or match file cut short (the disk filled up, or
// something else wrote there) is an error naming the file, never a row silently lost.
func TestJoinFilesCut(t *testing.T) {
	e := hashEntry{line: 7, pw: schemas.MemberPassword{HashType: "bcrypt", Hash: "$2b$10$x"}}
	body := encodePasswordRow(nil, &e)
	row := appendFrame(appendFrame(nil, "uuser-1"), bytesString(body))
	match := appendFrame(append(binary.AppendUvarint(nil, 3), ownerUserID), bytesString(body))
	probe := appendFrame(binary.AppendUvarint(nil, 5), "uuser-1")
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		full []byte
		read func(path string) error
	}{
		{"partition", row, func(path string) error {
			j := &hashJoin{}
			n := 0
			err := j.readRows(&stream{path: path, size: joinBuffer}, &j.bufs, func(got *hashEntry) error {
				if got.line != 7 || got.owner != "user-1" || got.byEmail || got.pw.Hash != e.pw.Hash {
					t.Errorf("row read back as %+v", got)
				}
				n++
				return nil
			})
			if err == nil && n != 1 {
				t.Errorf("%d rows read back, want 1", n)
			}
			return err
		}},
		{"probes", probe, func(path string) error {
			j := &hashJoin{}
			n := 0
			err := eachProbe(path, "password probes", &j.bufs, func(got int) error {
				if got != 5 || string(j.bufs.key) != "uuser-1" {
					t.Errorf("probe read back as %d %q", got, j.bufs.key)
				}
				n++
				return nil
			})
			if err == nil && n != 1 {
				t.Errorf("%d probes read back, want 1", n)
			}
			return err
		}},
		{"matches", match, func(path string) error {
			src, err := openMatches(path, "password matches")
			if err != nil {
				return err
			}
			defer src.f.Close()
			if src.n != 3 || src.kind != ownerUserID || string(src.body) != string(body) {
				t.Errorf("match read back as n=%d kind=%c", src.n, src.kind)
			}
			if ok, err := src.next(); ok || err != nil {
				t.Errorf("after the last match: %v, %v", ok, err)
			}
			return nil
		}},
	} {
		path := filepath.Join(dir, tc.name)
		for cut := len(tc.full); cut >= 1; cut-- {
			if err := os.WriteFile(path, tc.full[:cut], 0o600); err != nil {
				t.Fatal(err)
			}
			err := tc.read(path)
			if cut == len(tc.full) && err != nil {
				t.Fatalf("%s: whole file: %v", tc.name, err)
			}
			if cut < len(tc.full) && (err == nil || !strings.Contains(err.Error(), path)) {
				t.Fatalf("%s cut at %d of %d bytes: error %v, want one naming the file", tc.name, cut, len(tc.full), err)
			}
		}
	}
}
