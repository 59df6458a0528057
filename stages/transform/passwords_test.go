package transform

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// TestPasswordIndex checks the hash file's index past several growths of its tables: every row
// is found by its owner with its fields intact, a user_id row wins over an email row, an owner with three
// rows has none (and three rejects), and the rows no lookup took come back as unused, in file
// order.
func TestPasswordIndex(t *testing.T) {
	const n = 5000
	var b strings.Builder
	b.WriteString("user_id,email,hash_type,hash,salt,iteration_amount,key_length,algorithm\n")
	for i := range n {
		fmt.Fprintf(&b, "u%d,,pbkdf_2,aGFzaA%d=,c2FsdA==,%d,32,sha256\n", i, i%10, 1000+i)
	}
	b.WriteString(",Both@X.io,bcrypt,$2a$10$email,,,,\n") // line n+2: loses to u1's user_id row
	b.WriteString(",nobody@x.io,bcrypt,$2a$10$nobody,,,,\n")
	for range 3 {
		b.WriteString("twice,,bcrypt,$2a$10$t,,,,\n")
	}
	var rejects []schemas.Reject
	collect := func(r schemas.Reject) error { rejects = append(rejects, r); return nil }
	p, err := readHashFile(writeFile(t, "hashes.csv", b.String()), joinOptions{}, collect, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.owners.len() != n+3 { // the user ids, both emails and "twice"
		t.Fatalf("%d owners indexed, want %d", p.owners.len(), n+3)
	}
	for i := range n {
		email := ""
		if i == 1 {
			email = "both@x.io"
		}
		e, err := p.lookup(i, fmt.Sprintf("u%d", i), email)
		if err != nil || e == nil {
			t.Fatalf("u%d not found", i)
		}
		if e.owner != fmt.Sprintf("u%d", i) || e.byEmail || e.line != i+2 || e.pw.HashType != "pbkdf_2" ||
			e.pw.Hash != fmt.Sprintf("aGFzaA%d=", i%10) || e.pw.Salt != "c2FsdA==" ||
			e.pw.IterationAmount != int32(1000+i) || e.pw.KeyLength != 32 || e.pw.Algorithm != "sha256" {
			t.Fatalf("u%d = %+v", i, e)
		}
	}
	if e, _ := p.lookup(n, "someone", "both@x.io"); e == nil || !e.byEmail || e.pw.Hash != "$2a$10$email" {
		t.Fatalf("email row = %+v", e)
	}
	if e, _ := p.lookup(n+1, "twice", ""); e != nil {
		t.Fatalf("ambiguous owner found: %+v", e)
	}
	var ambiguous []string
	for _, r := range rejects {
		ambiguous = append(ambiguous, r.SourceUserID+"/"+r.Reason+"/"+r.Detail)
	}
	want := []string{
		fmt.Sprintf("twice/ambiguous_password/hashes.csv line %d: this owner has more than one row", n+4),
		fmt.Sprintf("twice/ambiguous_password/hashes.csv line %d: this owner has more than one row", n+5),
		fmt.Sprintf("twice/ambiguous_password/hashes.csv line %d: this owner has more than one row", n+6),
	}
	slices.Sort(ambiguous)
	if !slices.Equal(ambiguous, want) {
		t.Fatalf("rejects %v, want %v", ambiguous, want)
	}
	rejects = nil
	if err := p.finish(); err != nil {
		t.Fatal(err)
	}
	unused := rejects
	if len(unused) != 1 || unused[0].RawValue != "nobody@x.io" || unused[0].Field != "email" ||
		unused[0].Detail != fmt.Sprintf("hashes.csv line %d: no planned member for this row", n+3) {
		t.Fatalf("unused = %+v", unused)
	}
}

// TestPasswordIndexPresize checks that the index makes room for the rows the read part of the
// file announces, and only when they fit in the limit and enough of the file is left.
func TestPasswordIndexPresize(t *testing.T) {
	const n = 1000
	var b strings.Builder
	b.WriteString("user_id,hash_type,hash\n")
	for i := range n {
		fmt.Fprintf(&b, "user-%06d,bcrypt,$2a$10$%d\n", i, i)
	}
	read := func() *passwordIndex {
		p, err := readHashFile(writeFile(t, "hashes.csv", b.String()), joinOptions{}, func(schemas.Reject) error { return nil }, nil)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := read()
	refs, data, slots := cap(p.refs), cap(p.owners.data), len(p.owners.table)
	p.presize(0.6, 0) // most of the file read: nothing to do
	p.presize(0.1, 64<<10)
	if cap(p.refs) != refs || cap(p.owners.data) != data || len(p.owners.table) != slots {
		t.Fatal("presized although most of the file was read, or past the limit")
	}
	p.presize(0.1, 0)
	if cap(p.refs) < 10*n || cap(p.owners.data) < 10*len(p.owners.data) || len(p.owners.table) < 20*n {
		t.Fatalf("presized for 10x %d rows: refs %d, key bytes %d of %d, %d slots", n, cap(p.refs), cap(p.owners.data), len(p.owners.data), len(p.owners.table))
	}
	p = read()
	p.presize(0.1, 64<<20)
	if cap(p.refs) < 10*n {
		t.Fatalf("not presized within a limit the rows fit in: refs %d", cap(p.refs))
	}
}
