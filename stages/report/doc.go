// Package report turns a run directory into report.html: one self-contained page an operator or
// an auditor opens in a browser, with no script, no stylesheet or font to fetch and no network
// access at all. Charts are inline SVG generated here; styles are inline CSS.
//
// # What it shows
//
//   - The stages and their status from manifest.json (ok, failed, running, partial, stale).
//   - The funnel users → eligible → members → loaded → verified. Users are the rows of
//     extract/users.parquet; eligible are users minus user-scope rejects (a user rejected as a
//     whole: no_email, invalid_email, no_organization, metadata_too_large); members are the rows
//     of transform/members.parquet (memberships: one user may be a member of several
//     organizations, so this step may exceed the previous one); loaded are the members whose
//     load outcome says they are in the target; verified are the members minus the distinct
//     members verify found missing or drifted.
//   - Rejects by scope and reason; with strategy mapping, the count and first rows of the
//     mapping file's rows that name no user (transform/mapping_unmatched.parquet, whose absence
//     is not noted: other strategies do not write it); duplicates per organization (top N) and by rule, load
//     outcomes and error types, the largest planned organizations, verify's drift by kind and
//     field with the first rows.
//   - Requests and 429s over time. The load stage records no per-request times; its ledger
//     (load/ledger/*.parquet) has one entry per outcome with an `at` time and the number of HTTP
//     attempts it took. The timeline buckets those entries (1 s to 1 day per bar, at most 120
//     bars): a bar's height is the attempts of the outcomes recorded in it, split into each outcome's
//     first attempt and its further ones (a lookup before a create, or a retry after a 429, a
//     5xx or a network error: the ledger does not tell them apart), and a red mark
//     flags buckets with outcomes that gave up on too_many_requests. Exact totals of requests,
//     retries, 429s and 5xx come from the load stage's counters in manifest.json.
//   - Every file of the run directory with a relative link, its schema, rows (from the Parquet
//     footer, schemas.ReadInfo), size, sha256 (computed now) and whether the sha256 matches what
//     the manifest recorded. Ledger folders are listed as one row each.
//
// # Any subset of stages
//
// Every section is built from its own files and says so when they are missing ("the load stage
// has not run"); the "Not shown" box at the top lists what is missing and why. A staged file that
// exists but cannot be read is reported the same way rather than failing the report: the report
// is how one finds out what went wrong.
//
// # Escaping
//
// The page is rendered with html/template, which escapes every value for its context, so user
// data (emails, names, organization names) can never become markup. The data behind the page is
// the [Model]; tests keep its JSON form as a golden file.
package report
