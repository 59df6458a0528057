package demodata

import (
	"bytes"
	"encoding/csv"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/demo from the generator")

// committedDir is the committed sample, relative to this package.
const committedDir = "../../testdata/demo"

// maxSampleBytes keeps the committed sample small.
const maxSampleBytes = 2 << 20

func TestCommittedSampleIsCurrent(t *testing.T) {
	dir := t.TempDir()
	if err := Generate(dir, DefaultSeed, DefaultUsers); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := Generate(committedDir, DefaultSeed, DefaultUsers); err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for _, name := range []string{UsersFile, OrgsFile, HashesFile, ConfigFile} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(committedDir, name))
		if err != nil {
			t.Fatalf("%v (run go test ./internal/demodata -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generator's output; run go test ./internal/demodata -update", name)
		}
		total += len(got)
	}
	if total > maxSampleBytes {
		t.Errorf("sample is %d bytes, want at most %d", total, maxSampleBytes)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if err := Generate(a, 7, 500); err != nil {
		t.Fatal(err)
	}
	if err := Generate(b, 7, 500); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{UsersFile, OrgsFile, HashesFile} {
		x, _ := os.ReadFile(filepath.Join(a, name))
		y, _ := os.ReadFile(filepath.Join(b, name))
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs with the same seed", name)
		}
	}
	c := t.TempDir()
	if err := Generate(c, 8, 500); err != nil {
		t.Fatal(err)
	}
	x, _ := os.ReadFile(filepath.Join(a, UsersFile))
	y, _ := os.ReadFile(filepath.Join(c, UsersFile))
	if bytes.Equal(x, y) {
		t.Error("different seeds gave the same users.csv")
	}
}

func TestGenerateRejectsBadSize(t *testing.T) {
	if err := Generate(t.TempDir(), 1, 0); err == nil {
		t.Fatal("n=0 accepted")
	}
}

// TestSampleIsMessy checks the committed sample holds every messy case the demo relies on.
func TestSampleIsMessy(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(committedDir, UsersFile))
	if err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(bytes.NewReader(data))
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("users.csv is not valid CSV: %v", err)
	}
	headers, users := 0, 0
	counts := map[string]int{}
	emails := map[string]int{}
	for _, rec := range recs {
		if len(rec) != len(exportColumns) {
			t.Fatalf("record with %d columns", len(rec))
		}
		if rec[0] == "user_id" {
			headers++
			continue
		}
		users++
		status, name, em, trusted, untrusted := rec[1], rec[3], rec[4], rec[6], rec[7]
		switch {
		case em == "[]":
			counts["phone_only"]++
		case strings.Contains(em, "not-an-email") || strings.Contains(em, "@@"):
			counts["invalid_email"]++
		}
		if status == "pending" {
			counts["pending"]++
		}
		if name == "" {
			counts["null_name"]++
		}
		if strings.ContainsAny(name, "ëéØøŁ李Сó") {
			counts["unicode_name"]++
		}
		if strings.Contains(em, "\u0308") || strings.Contains(em, "\u0301") {
			counts["nfd_email"]++
		}
		if strings.Contains(trusted, `"org_ids":"`) {
			counts["org_ids_string"]++
		}
		if strings.Contains(trusted, `"org_ids":[`) {
			counts["org_ids_list"]++
		}
		if trusted == "" || trusted == "{}" || strings.Contains(trusted, `"org_ids":[]`) {
			counts["no_org"]++
		}
		if strings.Contains(trusted, "umbrella") {
			counts["unknown_org"]++
		}
		if len(untrusted) > 4096 || strings.Count(trusted, ":") > 20 {
			counts["oversized"]++
		}
		for _, e := range strings.Split(em, `"email":"`)[1:] {
			emails[strings.ToLower(e[:strings.IndexByte(e, '"')])]++
		}
	}
	if headers != DefaultUsers/PageSize || users != DefaultUsers {
		t.Errorf("headers=%d users=%d, want %d and %d", headers, users, DefaultUsers/PageSize, DefaultUsers)
	}
	for _, k := range []string{"phone_only", "invalid_email", "pending", "null_name", "unicode_name", "nfd_email",
		"org_ids_string", "org_ids_list", "no_org", "unknown_org", "oversized"} {
		if counts[k] == 0 {
			t.Errorf("no %s users in the sample", k)
		}
	}
	dups := 0
	for _, n := range emails {
		if n > 1 {
			dups++
		}
	}
	if dups < 20 {
		t.Errorf("only %d emails appear more than once", dups)
	}
	t.Logf("users=%d cases=%v repeated emails=%d", users, counts, dups)

	orgs, _ := os.ReadFile(filepath.Join(committedDir, OrgsFile))
	if strings.Contains(string(orgs), "umbrella") || !strings.Contains(string(orgs), "acme-corp") {
		t.Error("orgs.csv must leave out umbrella and hold the acme-corp slug clash")
	}
	hashes, _ := os.ReadFile(filepath.Join(committedDir, HashesFile))
	for _, want := range []string{"bcrypt", "scrypt", "pbkdf_2", "md4", "16384x"} {
		if !strings.Contains(string(hashes), want) {
			t.Errorf("hashes.csv has no %q row", want)
		}
	}
}
