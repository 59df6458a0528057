// Package load is the load stage: it makes a Stytch B2B project hold exactly what transform/
// planned (organizations.parquet, members.parquet and, when a hash file was given,
// member_passwords.parquet), and it can roll that back.
//
// # Order and requests
//
// Organizations come first. Each is looked up by its external id (GET
// /v1/b2b/organizations/{external_id}) and created when absent with its name, slug, external id,
// allowed domains and the other settings the plan carries. An organization found under our slug
// without an external id gets ours (external_id_assigned); one with another external id is a
// conflict (or external_id_reassigned with reassign_external_ids: true), and the members of a
// conflicting or failed organization are recorded skipped_org_failed without a request.
//
// Members are then streamed from members.parquet (never held whole) and fanned out with errgroup
// under a concurrency gate. Every request and retry of the run waits on the stytch client's one
// shared adaptive rate limiter (load.rate, default 65 r/s), which backs off on 429 and
// Retry-After. Concurrency is a separate knob: with load.concurrency 0 it is sized every half
// second to ceil(rate × p50 latency × 1.5), between 4 and max_concurrency, with the latency of
// each HTTP attempt measured below the limiter (waiting for a token is not latency). A clean
// member costs one request: Create Member, or Passwords Migrate when the plan has a hash for it
// and its email was verified (Migrate creates the member and marks its email verified). A member
// with a hash but an unverified email is created without it: password_skipped_unverified.
//
// The password file is joined to the member stream by (org_key, source_user_id) without loading
// it: the join reads it forward as far as the member asked for and keeps the rows it passed in a
// map until their member comes. When transform writes both files in the same order the map stays
// empty; in the worst case (unrelated orders) it grows to the password file's size. The result's
// password_join_peak_pending detail tells which case a run was in.
//
// # Idempotence
//
// Nothing is created twice. A duplicate_member_email (or password_already_exists) answer, or a
// write whose answer was lost (5xx, timeout, dropped connection: stytch.MayHaveApplied), is
// resolved by looking the member up by email: same external id → existing (or created, when the
// lost write was ours); no external id → ours is assigned with Update Member
// (external_id_assigned); another one → conflict, or external_id_reassigned with
// reassign_external_ids. When nobody has the email, a lost write was not applied and is sent
// again; a duplicate_member_external_id then means another member holds our external id
// (conflict). Organizations are resolved the same way through their external id and slug.
//
// "Created by this run" matters for rollback. Within one process a lost answer tells; across a
// kill it cannot, so load/state.json records when the run's first load started, and on a resumed
// load an object found with our external id and created at or after that second counts as the
// run's. On a fresh start nothing found counts as the run's.
//
// # Crash safety
//
// Outcomes go to Parquet segments under load/ledger/ (schemas.Ledger), flushed every
// flush_interval (2 s) or flush_rows (1,000) rows, each committed atomically (temporary name,
// fsync, rename). A rerun reads the ledger into a done set (16-byte hashed keys, about 20 MB per
// million members), skips what it holds, and resolves the rest through the duplicate handling
// above; what a kill -9 can cost is the members in flight plus one flush window, each at most
// one duplicate answer and one lookup. At the end the ledger is compacted (latest outcome per
// member, without holding the ledger: a key → position map and two passes) into
// load/organizations.parquet and load/members.parquet. A plain rerun does not retry failures;
// WithRetryFailed (load --retry-failed) tries the failed and skipped_org_failed rows again.
//
// # Dry run and rollback
//
// WithDryRun looks every organization up (by external id, then slug) and every member of an
// existing organization (by email, then external id), writes the plan with dry-run outcomes
// (would_create, exists, would_assign_external_id, conflict, ...) to load/dry_run_*.parquet with
// the result schemas, and never writes. Members of an organization that would be created need no
// lookup. A dry run is recorded in the manifest as load_dry_run, so it never passes for a load.
//
// [Rollback] deletes what the ledger says this run created: organizations it created (with their
// members) and members it created in organizations it found; it never deletes what it found. It
// has its own resumable ledger (load/rollback_ledger/) and archives both ledgers when done.
//
// # Results
//
// Run returns counts by outcome (organizations_*, members_*), requests (total, organization and
// member phase), retries, 429s, 5xx and transport errors, and details (requests per member,
// p50/p99 attempt latency, members per second, final concurrency). The result is Partial when any
// row ended failed, conflict or skipped_org_failed. Password hashes never reach logs, errors, the
// ledger or any file but member_passwords.parquet: they travel as stytch.Secret and error
// messages of Migrate calls are scrubbed.
package load
