// Package extract is the extract stage: it reads every user of a Stytch Consumer project from one
// source and writes them, streaming and with nothing dropped, to extract/users.parquet
// ([schemas.Users]) in the run directory, and malformed records to extract/bad_records.parquet
// ([schemas.BadRecords]).
//
// # Sources
//
// The config's source.type ([Config.Type]) selects one of:
//
//   - stytch_api: Search Users (POST /v1/users/search) through a [UserSearcher], page by page
//     (page_size, default and maximum 1,000), following next_cursor to the end, paced at
//     requests_per_minute (default 120; Stytch allows 150). See "Resuming" and "Incremental mode".
//   - export_json: the export utility's users.json, one JSON array of User objects (pretty-printed).
//   - export_csv: the export utility's users.csv: columns user_id, status, created_at, name, emails,
//     phone_numbers, trusted_metadata, untrusted_metadata, providers, webauthn_registrations,
//     biometric_registrations, totps, crypto_wallets, password; nested values are JSON text in
//     quoted cells; an empty cell is null. The utility repeats the header row at the start of every
//     1,000-user page: a row equal to the header is skipped and counted (header_rows_skipped).
//     Columns may come in any order, and the User fields the utility leaves out (external_id,
//     roles, is_locked, lock_created_at, lock_expires_at) are accepted too; any other column is an
//     error, so that nothing is dropped silently.
//   - jsonl: one User object per line; blank lines are skipped and counted.
//
// # Reading files
//
// A file is never held in memory whole, nor left in the page cache: it is read once, front to back,
// and the pages read are dropped from the cache as the reading goes on (package readonce). On a
// virtual machine whose host takes unused guest memory back, that is what makes a cold read cheap:
// on 1M users (a 966 MB JSONL export, not in the cache), the stage's system CPU fell from 2.6-3.1 s
// to 0.6-1.0 s, and its wall time from 5.2-5.8 s to 3.7-4.4 s. A reader goroutine reads 1 MiB
// blocks and splits them into records with a small structural scanner per format (lines; top-level
// array elements, matching brackets outside strings; CSV records, a newline inside quotes belonging
// to the field), which tracks line numbers. Worker goroutines (one per CPU) decode chunks of
// records in parallel: CSV rows with encoding/csv, JSON (records, and JSON cells of CSV rows) with
// a single-pass decoder specialised for the User object (userjson.go). That fast path takes
// well-formed records in every shape real exports have; anything else — malformed JSON, a wrong
// type, a failed check, and rare forms such as repeated keys, keys matching a field only
// case-insensitively, null list elements or invalid UTF-8 in a string — is decoded again with
// encoding/json into typed structs (metadata as json.RawMessage), which gives every error and
// edge-case meaning, so the fast path changes no result (a differential test and a fuzz target
// check that). The merger hands decoded chunks to the single writer in source order, so output
// order is source order and the first bad record reported is the first in the file. The duplicate
// id check runs on the merger, so what it costs there is kept small: workers pack each user id into
// its 16 UUID bytes, the merger reads a chunk's table slots together before checking them in order
// (their cache misses overlap), and the table grows straight to the size the file's size and the
// records seen so far call for instead of being rehashed at every doubling (idset.go). In-flight
// chunks are bounded (3 per worker). The array and CSV scanners check only what they need to find
// record boundaries: a record with broken JSON inside balanced brackets, or a CSV row with a broken
// JSON cell, is a bad record like any other; a file whose structure is broken (an array never
// closed, an unterminated quoted CSV field, text after the array) stops the stage in every mode,
// because no later boundary can be trusted.
//
// # Source positions
//
// Every user records its source (User.SourceFile: the path as configured, or "stytch_api") and
// position (User.SourcePosition):
//
//   - jsonl: the 1-based line number.
//   - export_json: the 1-based line of the element's opening brace.
//   - export_csv: the 1-based physical line on which the record starts (the header is line 1; a
//     quoted cell with newlines makes a record span several lines, so this is not a row number).
//   - stytch_api: the 1-based ordinal of the record in the API's result stream.
//
// # Fields
//
// Every field of the User object is kept. trusted_metadata and untrusted_metadata are stored as
// JSON text compacted with json.Compact: insignificant whitespace is removed (the export's
// pretty-printing must not count against the 4,096-byte limit, which is defined on compact JSON),
// while key order, string escapes and the spelling of numbers (1.0, 1e3) are the source's,
// byte for byte; the text is never round-tripped through a map. Null or absent metadata is "".
// Nested lists keep null (absent) apart from empty. Times are RFC 3339, stored in UTC with
// microsecond precision. Unknown JSON fields are ignored (Stytch adds fields over time).
//
// # Bad records
//
// A record is bad when it is not valid JSON, is not an object, has a field of the wrong type,
// has no user_id, repeats a user_id already seen (the first occurrence is kept), has a created_at
// or lock time that is not RFC 3339, has a status other than active or pending, has metadata that
// is not an object, or (CSV) has a different number of fields than the header. By default
// (on_bad_record: fail) the first one stops the stage with "file:line: field: what is wrong"
// ([RecordError]) and nothing is committed. For a fault inside a multi-line record (a wrong type
// in a pretty-printed element, a cell spanning lines) the line is that of the fault; the record's
// own position is what bad_records.parquet records. With on_bad_record: quarantine the record's
// raw text (the exact source bytes; for the API, the user re-encoded as JSON) and the error go to
// bad_records.parquet, the stage goes on, and its result is partial (exit code 3).
// bad_records.parquet is always written, empty when there was nothing to quarantine, so every
// run replaces both outputs.
//
// Duplicate user ids are found exactly with an in-memory set: a canonical id
// ("user-test-<uuid>", "user-live-<uuid>") costs its 16 UUID bytes plus map overhead (about
// 30 MB per million users), any other id its length plus about 40 bytes.
//
// # Resuming (stytch_api)
//
// The API source writes every N pages (WithPagesPerPart, default 1) as a part under extract/.parts/ (a
// users file and a bad-records file, each committed atomically), then commits
// extract/.parts/checkpoint.json with the next cursor, counts and the list of parts. A crash at
// any point leaves a consistent checkpoint; a part not listed in it is overwritten. A rerun asking
// the same query (page size and lower bound) resumes from the checkpoint with the ids of the
// committed parts back in the duplicate check, so no user is missed or doubled; a different query
// starts over. At the end the parts are merged, in order, into users.parquet and
// bad_records.parquet, and extract/.parts is removed.
//
// # Incremental mode (stytch_api)
//
// since: TIME (RFC 3339) or since: last reads only users created strictly after a bound, with the
// created_at_greater_than filter. "last" is the newest created_at of the last successful extract
// in the run directory's history (the newest_created_at_unix_micro count in manifest.json, else
// the newest created_at in the current users.parquet). Stytch's filter takes whole seconds, so the
// bound is sent truncated and users at or before the exact bound are skipped and counted
// (skipped_not_newer). In incremental mode users.parquet holds only this run's new users (it
// replaces the previous file; the manifest history keeps the previous outputs' hashes), and the
// manifest details record since, the filters sent and the watermark, which carries over when no
// user is newer. Known limit: a user created in the same whole second as the bound but after the
// previous extract read that second, with a created_at equal to the bound, is not read again.
//
// # Manifest
//
// The stage's Result lists the source file as an input (the manifest records its sha256 and
// size), both outputs, the counts (users, bad_records, bytes_read, header_rows_skipped,
// blank_lines_skipped, pages, pages_resumed, skipped_not_newer, newest_created_at_unix_micro)
// and details (source_type, path, on_bad_record; for the API the endpoint, page size, pace,
// reported total, filters and pages/s).
//
// # Progress
//
// Progress is reported through env.Progress: bytes read of the file's size for files (so the
// bar has an ETA), users read of results_metadata.total for the API. The pipeline renders it as
// a bar on a terminal and as periodic log lines otherwise.
package extract
