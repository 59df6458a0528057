package extract

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// API source files, relative to the run directory.
const (
	// PartsDir holds the parts and the checkpoint of an API extraction in progress. It is removed
	// once users.parquet is committed.
	PartsDir = "extract/.parts"
	// checkpointFile is the checkpoint's name in PartsDir.
	checkpointFile = "checkpoint.json"
	// checkpointFormat is the version of the checkpoint's layout.
	checkpointFormat = 1
	// apiSourceName is the source file name recorded for API users and in their errors.
	apiSourceName = SourceStytchAPI
)

// apiQuery is what identifies an API extraction: a checkpoint is resumed only by a run asking the
// same.
type apiQuery struct {
	Limit int `json:"limit"`
	// CreatedAfter is the created_at_greater_than bound (RFC 3339, full precision), or "".
	CreatedAfter string `json:"created_after,omitempty"`
}

// checkpoint is extract/.parts/checkpoint.json: the state of an API extraction after its last
// committed part. It is rewritten atomically after each part, so a crash at any moment leaves
// either the previous or the new state, and parts not listed in it are ignored (and overwritten).
type checkpoint struct {
	Format     int        `json:"format"`
	Query      apiQuery   `json:"query"`
	NextCursor string     `json:"next_cursor,omitempty"`
	Done       bool       `json:"done"`
	Pages      int64      `json:"pages"`
	Users      int64      `json:"users"`
	Bad        int64      `json:"bad_records"`
	Skipped    int64      `json:"skipped_not_newer"`
	Total      int64      `json:"total"`
	Newest     time.Time  `json:"newest_created_at,omitzero"`
	Parts      []partInfo `json:"parts"`
	StartedAt  time.Time  `json:"started_at"`
}

// partInfo is one committed part: a users file and a bad-records file.
type partInfo struct {
	Users string `json:"users"`
	Bad   string `json:"bad_records"`
	Pages int    `json:"pages"`
	Rows  int64  `json:"rows"`
}

// apiRun is one run of the API source.
type apiRun struct {
	s        *Stage
	env      *pipeline.Env
	dir      string // absolute PartsDir
	query    apiQuery
	since    time.Time
	cp       checkpoint
	chk      *checker
	prog     pipeline.Progress
	resumed  int64
	requests int64
}

// runAPI extracts from the Consumer API, resuming an interrupted extraction of the same query.
func (s *Stage) runAPI(ctx context.Context, env *pipeline.Env) (*pipeline.Result, error) {
	if s.o.searcher == nil {
		return nil, errors.New("read users: the stytch_api source has no API client")
	}
	since, err := s.resolveSince(env)
	if err != nil {
		return nil, err
	}
	r := &apiRun{s: s, env: env, dir: env.Dir.Path(PartsDir), since: since,
		query: apiQuery{Limit: s.cfg.PageSize}, chk: newChecker(apiSourceName, s.cfg.OnBadRecord == OnBadRecordQuarantine)}
	if !since.IsZero() {
		r.query.CreatedAfter = since.UTC().Format(time.RFC3339Nano)
	}
	if err := r.loadOrStart(); err != nil {
		return nil, err
	}
	r.prog = progress(env, "extract users (Stytch API)", "users")
	start := time.Now()
	err = r.fetch(ctx)
	r.prog.Done()
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	if err := r.merge(); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(r.dir); err != nil {
		env.Logger.Warn("could not remove the finished parts", "dir", r.dir, "err", err)
	}
	return r.result(elapsed), nil
}

// resolveSince returns the incremental lower bound, or the zero time for a full extraction.
func (s *Stage) resolveSince(env *pipeline.Env) (time.Time, error) {
	switch s.cfg.Since {
	case "":
		return time.Time{}, nil
	case SinceLast:
		return LastWatermark(env.Dir, s.o.readerOpts...)
	}
	t, err := time.Parse(time.RFC3339Nano, s.cfg.Since)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: since %q: %v", ErrConfig, s.cfg.Since, err)
	}
	return t.UTC(), nil
}

// loadOrStart resumes the checkpoint of the same query, or starts afresh.
func (r *apiRun) loadOrStart() error {
	data, err := os.ReadFile(filepath.Join(r.dir, checkpointFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("read checkpoint: %w", err)
	default:
		var cp checkpoint
		if err := json.Unmarshal(data, &cp); err != nil || cp.Format != checkpointFormat {
			r.env.Logger.Warn("unreadable extract checkpoint; starting over", "dir", r.dir, "err", err)
		} else if cp.Query != r.query {
			r.env.Logger.Info("extract checkpoint is for another query; starting over", "checkpoint", cp.Query, "now", r.query)
		} else {
			r.cp = cp
			return r.resume()
		}
	}
	if err := os.RemoveAll(r.dir); err != nil {
		return fmt.Errorf("clear %s: %w", PartsDir, err)
	}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", PartsDir, err)
	}
	r.cp = checkpoint{Format: checkpointFormat, Query: r.query, StartedAt: time.Now().UTC(), Total: -1}
	return nil
}

// resume takes over the committed parts: their ids go back into the duplicate check.
func (r *apiRun) resume() error {
	for _, p := range r.cp.Parts {
		rd, err := schemas.Open(filepath.Join(r.dir, p.Users), schemas.Users, r.s.o.readerOpts...)
		if err != nil {
			return fmt.Errorf("resume extract: %w", err)
		}
		for rd.Next() {
			r.chk.seen.add(rd.Row().UserID)
		}
		err = rd.Err()
		rd.Close()
		if err != nil {
			return fmt.Errorf("resume extract: %w", err)
		}
	}
	r.chk.users, r.chk.bad, r.chk.newest = r.cp.Users, r.cp.Bad, r.cp.Newest
	r.resumed = r.cp.Pages
	r.env.Logger.Info("resuming the API extraction", "pages_done", r.cp.Pages, "users_done", r.cp.Users, "done", r.cp.Done)
	return nil
}

// fetch reads pages until the last one, committing a part and the checkpoint every
// pagesPerPart pages.
func (r *apiRun) fetch(ctx context.Context) error {
	r.prog.Add(r.cp.Users + r.cp.Bad + r.cp.Skipped)
	if r.cp.Total >= 0 {
		r.prog.SetTotal(r.cp.Total)
	}
	perPart := max(r.s.o.pagesPerPart, 1)
	var d decoder
	for !r.cp.Done {
		n := len(r.cp.Parts) + 1
		p := partInfo{Users: fmt.Sprintf("part-%06d.users.parquet", n), Bad: fmt.Sprintf("part-%06d.bad_records.parquet", n)}
		out, err := newOutputs(filepath.Join(r.dir, p.Users), filepath.Join(r.dir, p.Bad), fileMeta(r.env), r.s.o.writerOpts)
		if err != nil {
			return err
		}
		next := r.cp
		r.chk.out = out
		users0 := r.chk.users
		for p.Pages < perPart && !next.Done {
			if err := r.page(ctx, &d, &next); err != nil {
				out.abort()
				return err
			}
			p.Pages++
		}
		if err := out.commit(); err != nil {
			out.abort()
			return err
		}
		p.Rows = r.chk.users - users0
		next.Users, next.Bad, next.Newest = r.chk.users, r.chk.bad, r.chk.newest
		next.Parts = append(next.Parts[:len(next.Parts):len(next.Parts)], p)
		if err := r.saveCheckpoint(next); err != nil {
			return err
		}
		r.cp = next
	}
	return nil
}

// page reads one page into the current part and advances cp.
func (r *apiRun) page(ctx context.Context, d *decoder, cp *checkpoint) error {
	req := SearchRequest{Cursor: cp.NextCursor, Limit: r.query.Limit, CreatedAfter: r.since}
	r.requests++
	page, err := r.s.o.searcher.SearchUsers(ctx, req)
	if err != nil {
		return fmt.Errorf("read users: search users (page %d): %w", cp.Pages+1, err)
	}
	if page.Total >= 0 {
		cp.Total = page.Total
		r.prog.SetTotal(page.Total)
	}
	ordinal := r.chk.users + r.chk.bad + cp.Skipped
	for _, raw := range page.Results {
		ordinal++
		var u schemas.User
		if derr := d.decodeJSON(raw, &u); derr != nil {
			if err := r.chk.reject(&RecordError{File: apiSourceName, Line: ordinal, Field: derr.field, Msg: derr.msg}, ordinal, raw); err != nil {
				return err
			}
			continue
		}
		if !r.since.IsZero() && !u.CreatedAt.After(r.since) {
			// The filter works in whole seconds; users at or before the exact bound were
			// extracted by the run that set it.
			cp.Skipped++
			continue
		}
		u.SourceFile, u.SourcePosition = apiSourceName, ordinal
		if err := r.chk.user(&u, packID(u.UserID), raw); err != nil {
			return err
		}
	}
	r.prog.Add(int64(len(page.Results)))
	cp.Pages++
	cp.NextCursor = page.NextCursor
	cp.Done = page.NextCursor == ""
	return nil
}

// saveCheckpoint commits cp.
func (r *apiRun) saveCheckpoint(cp checkpoint) error {
	data, err := json.MarshalIndent(cp, "", "  ")
	if err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	if err := pipeline.WriteFileAtomic(filepath.Join(r.dir, checkpointFile), data, filePerm); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return nil
}

// merge concatenates the parts, in order, into extract/users.parquet and
// extract/bad_records.parquet.
func (r *apiRun) merge() error {
	meta := fileMeta(r.env)
	out, err := newOutputs(r.env.Dir.Path(schemas.Users.Path()), r.env.Dir.Path(schemas.BadRecords.Path()), meta, r.s.o.writerOpts)
	if err != nil {
		return err
	}
	defer out.abort()
	for _, p := range r.cp.Parts {
		if err := copyRows(filepath.Join(r.dir, p.Users), schemas.Users, out.users, r.s.o.readerOpts); err != nil {
			return err
		}
		if err := copyRows(filepath.Join(r.dir, p.Bad), schemas.BadRecords, out.bad, r.s.o.readerOpts); err != nil {
			return err
		}
	}
	if out.users.Rows() != r.cp.Users {
		return fmt.Errorf("merge extract parts: %d users in the parts, the checkpoint counted %d", out.users.Rows(), r.cp.Users)
	}
	return out.commit()
}

// copyRows appends every row of the file at path to w.
func copyRows[T any](path string, spec *schemas.Spec[T], w *schemas.Writer[T], opts []schemas.ReaderOption) error {
	rd, err := schemas.Open(path, spec, opts...)
	if err != nil {
		return fmt.Errorf("merge extract parts: %w", err)
	}
	defer rd.Close()
	for rd.Next() {
		if err := w.Append(rd.Row()); err != nil {
			return fmt.Errorf("merge extract parts: %w", err)
		}
	}
	if err := rd.Err(); err != nil {
		return fmt.Errorf("merge extract parts: %w", err)
	}
	return nil
}

// result reports the run.
func (r *apiRun) result(elapsed time.Duration) *pipeline.Result {
	cp := r.cp
	pagesThisRun := cp.Pages - r.resumed
	res := &pipeline.Result{
		Outputs: outputPaths(),
		Counts: map[string]int64{
			CountUsers:           cp.Users,
			CountBadRecords:      cp.Bad,
			CountPages:           pagesThisRun,
			CountPagesResumed:    r.resumed,
			CountSkippedNotNewer: cp.Skipped,
		},
		Details: map[string]any{
			"source_type":         SourceStytchAPI,
			"endpoint":            "POST /v1/users/search",
			"page_size":           r.query.Limit,
			"requests_per_minute": r.s.cfg.RequestsPerMinute,
			"on_bad_record":       r.s.cfg.OnBadRecord,
			"total_reported":      cp.Total,
			"incremental":         !r.since.IsZero(),
		},
		Partial: cp.Bad > 0,
	}
	if secs := elapsed.Seconds(); pagesThisRun > 0 && secs > 0 {
		res.Details["pages_per_second"] = float64(pagesThisRun) / secs
	}
	watermark := cp.Newest
	if !r.since.IsZero() {
		res.Details["since"] = r.s.cfg.Since
		res.Details["filters"] = []map[string]string{{
			"filter_name":  FilterCreatedAtGreaterThan,
			"filter_value": r.since.Format(time.RFC3339),
		}}
		res.Details["created_after"] = r.query.CreatedAfter
		if r.since.After(watermark) {
			watermark = r.since
		}
	}
	if !watermark.IsZero() {
		res.Counts[CountWatermark] = watermark.UnixMicro()
		res.Details["newest_created_at"] = watermark.Format(time.RFC3339Nano)
	}
	r.env.Logger.Info("extracted users", "source", SourceStytchAPI, "users", cp.Users, "bad_records", cp.Bad,
		"pages", pagesThisRun, "pages_resumed", r.resumed)
	return res
}
