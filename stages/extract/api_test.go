package extract

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/stytch"
	"github.com/stytch-migrate/stytch-migrate/stytch/stytchtest"
)

// apiBase is the created_at of the first seeded user.
var apiBase = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// seedUsers returns n Stytch users created one second apart from apiBase.Add(offset).
func seedUsers(n int, offset time.Duration, idPrefix string) []stytch.User {
	users := make([]stytch.User, n)
	for i := range users {
		users[i] = stytch.User{
			UserID:          fmt.Sprintf("user-test-%s-0000-4000-8000-%012d", idPrefix, i),
			Status:          "active",
			CreatedAt:       apiBase.Add(offset + time.Duration(i)*time.Second),
			Emails:          []stytch.UserEmail{{EmailID: fmt.Sprintf("email-%s-%d", idPrefix, i), Email: fmt.Sprintf("u%d@%s.example", i, idPrefix), Verified: i%2 == 0}},
			Name:            &stytch.UserName{FirstName: "Zoë", LastName: fmt.Sprint(i)},
			TrustedMetadata: json.RawMessage(fmt.Sprintf(`{"z":%d,"a":1.0,"org_ids":["acme"]}`, i)),
		}
	}
	return users
}

// emulator starts a Stytch emulator over loopback with users.
func emulator(t *testing.T, users []stytch.User) *stytchtest.Server {
	t.Helper()
	srv := stytchtest.NewServer(stytchtest.WithUsers(users...))
	if err := srv.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// searcher returns a fast client of srv (the tests do not wait on the production pace).
func searcher(t *testing.T, srv *stytchtest.Server) UserSearcher {
	t.Helper()
	s, err := NewAPISearcher(srv.ConsumerConfig(), 600_000, "test")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// faulty decorates a real searcher: after failAfter pages it fails (or cancels the run), and
// tamper may rewrite a page.
type faulty struct {
	UserSearcher
	failAfter int64
	cancel    context.CancelFunc
	pages     atomic.Int64
	tamper    func(n int64, p *SearchPage)
}

var errInjected = errors.New("injected failure")

func (f *faulty) SearchUsers(ctx context.Context, req SearchRequest) (*SearchPage, error) {
	n := f.pages.Add(1)
	if f.failAfter > 0 && n > f.failAfter {
		if f.cancel != nil {
			f.cancel()
			return nil, ctx.Err()
		}
		return nil, errInjected
	}
	p, err := f.UserSearcher.SearchUsers(ctx, req)
	if err == nil && f.tamper != nil {
		f.tamper(n, p)
	}
	return p, err
}

// checkAllUsersOnce checks that the run directory's users are exactly want's ids, in order.
func checkAllUsersOnce(t *testing.T, d *pipeline.RunDir, want []stytch.User) {
	t.Helper()
	got := readUsers(t, d)
	if len(got) != len(want) {
		t.Fatalf("%d users, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].UserID != want[i].UserID || got[i].SourcePosition != int64(i+1) || got[i].SourceFile != SourceStytchAPI {
			t.Fatalf("user %d is %s at %s:%d, want %s at position %d", i, got[i].UserID, got[i].SourceFile, got[i].SourcePosition, want[i].UserID, i+1)
		}
	}
	if want := `{"z":0,"a":1.0,"org_ids":["acme"]}`; got[0].TrustedMetadata != want {
		t.Errorf("metadata %s, want %s", got[0].TrustedMetadata, want)
	}
}

const apiUsers = 5000

func TestAPIReadsEveryPage(t *testing.T) {
	users := seedUsers(apiUsers, 0, "00000001")
	srv := emulator(t, users)
	d := runDir(t)
	res, err := runExtract(t, d, Config{Type: SourceStytchAPI, PageSize: 250}, WithSearcher(searcher(t, srv)), WithPagesPerPart(3))
	if err != nil {
		t.Fatal(err)
	}
	checkAllUsersOnce(t, d, users)
	if res.Counts[CountPages] != apiUsers/250 || res.Counts[CountUsers] != apiUsers || res.Details["total_reported"] != int64(apiUsers) {
		t.Errorf("counts %v details %v", res.Counts, res.Details)
	}
	if _, err := os.Stat(d.Path(PartsDir)); !os.IsNotExist(err) {
		t.Errorf("parts left after success: %v", err)
	}
}

func TestAPIResumesAfterInterruption(t *testing.T) {
	users := seedUsers(apiUsers, 0, "00000002")
	srv := emulator(t, users)
	for _, tc := range []struct {
		name         string
		cancel       bool
		orphanedPart bool
	}{
		{name: "failure"},
		{name: "canceled", cancel: true},
		{name: "crash_between_part_and_checkpoint", orphanedPart: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := runDir(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			f := &faulty{UserSearcher: searcher(t, srv), failAfter: 7}
			if tc.cancel {
				f.cancel = cancel
			}
			s, err := New(Config{Type: SourceStytchAPI, PageSize: 200}, WithSearcher(f), WithPagesPerPart(2))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := runStage(ctx, d, s); err == nil {
				t.Fatal("interrupted run succeeded")
			}
			if _, err := os.Stat(d.Path("extract/users.parquet")); !os.IsNotExist(err) {
				t.Fatal("interrupted run committed users.parquet")
			}
			var cp checkpoint
			if err := json.Unmarshal([]byte(readText(t, filepath.Join(d.Path(PartsDir), checkpointFile))), &cp); err != nil {
				t.Fatal(err)
			}
			if cp.Pages != 6 || cp.Users != 1200 || len(cp.Parts) != 3 || cp.Done {
				t.Fatalf("checkpoint after 7 pages, 2 per part: %+v", cp)
			}
			if tc.orphanedPart {
				// A crash after a part was renamed into place but before the checkpoint named it.
				orphan := filepath.Join(d.Path(PartsDir), "part-000004.users.parquet")
				if err := os.WriteFile(orphan, []byte("not parquet"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			res, err := runExtract(t, d, Config{Type: SourceStytchAPI, PageSize: 200}, WithSearcher(searcher(t, srv)), WithPagesPerPart(2))
			if err != nil {
				t.Fatal(err)
			}
			checkAllUsersOnce(t, d, users)
			if res.Counts[CountPagesResumed] != 6 || res.Counts[CountPages] != apiUsers/200-6 {
				t.Errorf("resumed run counts %v", res.Counts)
			}
		})
	}
}

func TestAPIIncremental(t *testing.T) {
	first := seedUsers(300, 0, "00000003")
	srv := emulator(t, first)
	d := runDir(t)
	if _, err := runExtract(t, d, Config{Type: SourceStytchAPI}, WithSearcher(searcher(t, srv))); err != nil {
		t.Fatal(err)
	}
	// Users created later, among them one in the same second as the newest extracted user but
	// after it: the whole-second filter lets it through and the exact check keeps it.
	later := seedUsers(40, time.Hour, "00000004")
	sameSecond := seedUsers(1, 299*time.Second+500*time.Millisecond, "00000005")
	if err := srv.AddUsers(append(later, sameSecond...)...); err != nil {
		t.Fatal(err)
	}
	res, err := runExtract(t, d, Config{Type: SourceStytchAPI, Since: SinceLast, PageSize: 7}, WithSearcher(searcher(t, srv)))
	if err != nil {
		t.Fatal(err)
	}
	got := readUsers(t, d)
	if len(got) != 41 || got[0].UserID != sameSecond[0].UserID || got[40].UserID != later[39].UserID {
		t.Fatalf("incremental run wrote %d users (want the 41 newer ones), first %s", len(got), got[0].UserID)
	}
	filters, _ := json.Marshal(res.Details["filters"])
	if want := `[{"filter_name":"created_at_greater_than","filter_value":"2024-01-01T00:04:59Z"}]`; string(filters) != want {
		t.Errorf("filters %s, want %s", filters, want)
	}
	if res.Counts[CountWatermark] != later[39].CreatedAt.UnixMicro() {
		t.Errorf("watermark %d", res.Counts[CountWatermark])
	}
	// Nothing newer: an empty users.parquet, and the watermark carries over.
	res, err = runExtract(t, d, Config{Type: SourceStytchAPI, Since: SinceLast}, WithSearcher(searcher(t, srv)))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(readUsers(t, d)); n != 0 || res.Counts[CountWatermark] != later[39].CreatedAt.UnixMicro() {
		t.Errorf("second incremental run: %d users, counts %v", n, res.Counts)
	}
	// An explicit time.
	if _, err := runExtract(t, d, Config{Type: SourceStytchAPI, Since: apiBase.Add(289 * time.Second).Format(time.RFC3339)}, WithSearcher(searcher(t, srv))); err != nil {
		t.Fatal(err)
	}
	if n := len(readUsers(t, d)); n != 10+1+40 {
		t.Errorf("since an explicit time: %d users, want 51", n)
	}
}

func TestAPISinceLastWithoutHistory(t *testing.T) {
	srv := emulator(t, seedUsers(3, 0, "00000006"))
	_, err := runExtract(t, runDir(t), Config{Type: SourceStytchAPI, Since: SinceLast}, WithSearcher(searcher(t, srv)))
	if !errors.Is(err, ErrNoWatermark) {
		t.Fatalf("error %v, want ErrNoWatermark", err)
	}
}

func TestAPIBadRecords(t *testing.T) {
	users := seedUsers(50, 0, "00000007")
	srv := emulator(t, users)
	// Page 3 (users 21–30) repeats user 5 and carries a user without user_id.
	tamper := func(n int64, p *SearchPage) {
		if n == 3 {
			dup, _ := json.Marshal(map[string]any{"user_id": users[4].UserID, "status": "active"})
			p.Results = append(p.Results, dup, json.RawMessage(`{"status":"active"}`))
		}
	}
	t.Run("fail", func(t *testing.T) {
		d := runDir(t)
		_, err := runExtract(t, d, Config{Type: SourceStytchAPI, PageSize: 10}, WithSearcher(&faulty{UserSearcher: searcher(t, srv), tamper: tamper}))
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf(`stytch_api:31: user_id: duplicate %q`, users[4].UserID)) {
			t.Fatalf("error %v", err)
		}
		if _, err := os.Stat(d.Path("extract/users.parquet")); !os.IsNotExist(err) {
			t.Fatal("failed run committed users.parquet")
		}
	})
	t.Run("quarantine", func(t *testing.T) {
		d := runDir(t)
		res, err := runExtract(t, d, Config{Type: SourceStytchAPI, PageSize: 10, OnBadRecord: OnBadRecordQuarantine}, WithSearcher(&faulty{UserSearcher: searcher(t, srv), tamper: tamper}))
		if err != nil {
			t.Fatal(err)
		}
		bad := readBad(t, d)
		if !res.Partial || res.Counts[CountUsers] != 50 || len(bad) != 2 || bad[0].SourcePosition != 31 || bad[1].Field != "user_id" || bad[1].Raw != `{"status":"active"}` {
			t.Errorf("partial %v counts %v bad %+v", res.Partial, res.Counts, bad)
		}
		if got := readUsers(t, d); got[30].SourcePosition != 33 {
			t.Errorf("user after the bad records at position %d, want 33 (ordinal in the API's stream)", got[30].SourcePosition)
		}
	})
}
