// Package transform is the transform stage: it turns extract/users.parquet (schemas.Users) into
// the migration plan in the run directory's transform/ folder:
//
//   - organizations.parquet: one row per planned B2B organization (schemas.Organization);
//   - members.parquet: one row per surviving (organization, normalized email) membership;
//   - duplicates.parquet: memberships merged into a survivor, with the survivor and the rule;
//   - rejects.parquet: users, memberships and password rows that cannot be planned, with the
//     reason, the field and the raw value (never a password hash or salt);
//   - member_passwords.parquet (mode 0600), only when passwords.hashes_file is set.
//
// The rules are the contract of DESIGN.md ("Transform rules"); docs/transform.md restates them
// with every decision taken where the contract is silent. In short: the primary email is the
// first verified one, else the first; it is trimmed of Unicode white space, NFC-normalized and
// lower-cased, then validated; a user gets organization keys from a strategy (metadata,
// email_domain, mapping, single); user-level reasons are checked in the order no_email,
// invalid_email, invalid_metadata, no_organization, metadata_too_large, invalid_external_id, and
// a user gets at most one; each membership is then checked against the organizations file
// (unknown_organization) or, without one, against the organization external-id charset
// (invalid_organization_key); memberships are deduplicated per (organization, email) by
// verified primary email, then earliest created_at, then smallest user_id; external ids must be
// unique within an organization (external_id_conflict: the best-ranked member by the same
// order keeps the id).
//
// # Output order
//
// Outputs do not depend on the order of the input: members and member passwords are sorted by
// (org_key, email_address), duplicates by (org_key, email_address, source_user_id),
// organizations by org_key, and rejects by (source_user_id, scope, org_key, reason, field,
// raw_value, detail, source_position).
//
// # Reconciliation
//
// While reading, the stage tallies every user and every (user, org) candidate membership (count
// and a sum of 64-bit hashes); while writing, it tallies the members, duplicates, membership
// rejects and user rejects it writes. The two must agree (DESIGN rule 9) or the stage fails and
// commits nothing.
//
// # Memory and spilling
//
// Users are read column by column (only the columns the rules need) in record batches; worker
// goroutines apply the per-user rules and encode what a member row needs into compact records in
// large append-only arenas. While the records fit in a third of the memory limit
// (transform.memory_limit, --memory-limit, default 1 GiB) everything stays in memory. Past it,
// the memberships are partitioned by organization key range into temporary Parquet spill files
// under transform/.spill (removed at the end): each organization lands in exactly one partition,
// and partitions are planned one at a time in key order, so each partition's members go straight
// to the outputs in sorted order. A partition that came out larger than planned (the first
// spill chose key ranges from an unrepresentative sample, e.g. input sorted by organization) is
// split again by its organizations' exact sizes before it is read. One organization larger than
// the budget is still planned in memory: the bound is per organization. The stage also sets the
// Go runtime's soft memory limit to the budget for its duration, unless the process set one.
//
// # Concurrency
//
// Run uses GOMAXPROCS workers for the per-user rules (WithWorkers), decodes Parquet columns in
// parallel, and writes members.parquet and member_passwords.parquet on their own goroutines
// while deduplication produces the rows. A Stage is safe to run once at a time per run
// directory (the command holds the run directory's lock).
package transform
