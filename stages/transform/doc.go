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
// members.parquet and member_passwords.parquet come in input order: the order of
// extract/users.parquet, a user's memberships in the order of their organization keys, and the
// two files in the same order (the load stage reads them side by side). Sorting them would mean
// holding, or spilling and merging, every member's whole row; in input order they stream. Their
// rows do not depend on the order of the input, only their order does. Duplicates are sorted
// by (org_key, email_address, source_user_id), organizations by org_key, and rejects by
// (source_user_id, scope, org_key, reason, field, raw_value, detail, source_position).
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
// The stage makes three passes:
//
//  1. Scan: users are read column by column (only the columns the rules need) in record
//     batches; worker goroutines apply the per-user rules. What a member row needs from each
//     planned user (a payload record; the metadata texts, unchanged, only as the user's row in
//     the users file) is appended to a payload file under transform/.spill, in input order;
//     only what deduplication needs (a key record: created_at, the verified flag,
//     user id, email, external id; about 60 bytes, canonical Stytch user ids packed into 17) stays
//     in memory, in large append-only arenas, with 16 bytes per membership. Each membership's
//     organization (its index in the organization dictionary) goes to a second file, orgs.bin,
//     in the same order.
//  2. Decide: the memberships are sorted by organization and decided one organization at a
//     time, on GOMAXPROCS goroutines: survivor, duplicate or external-id conflict, with the rule
//     and the merged users, one byte per membership plus the merged lists. Duplicates and
//     conflicts are written now.
//  3. Emit: the payload file is read back in order, orgs.bin and the users file's metadata
//     columns side by side (metadataCursor), and a member row is written for every survivor.
//
// So memory holds about 80 bytes per membership, not the whole member row. While the key records
// fit in a third of the memory limit (transform.memory_limit, --memory-limit, default 1 GiB)
// they stay in memory. Past it, the memberships are hash-partitioned by organization key into
// temporary Parquet spill files under transform/.spill (schema schemas.SpillMemberships: org
// key and its dictionary index, membership id, user id, email, verified flag, created_at,
// external id and its source, source position; uncompressed, without statistics, since the
// stage reads each back once):
// every flush writes one file per partition, each organization lands in exactly one partition
// (a hash of its key, partitionOf), and partitions are decided one at a time. A partition that
// came out larger than planned (the first flush underestimated the input, or large
// organizations share it) is split first: its organizations, in key order, are cut into up to 8
// groups by their exact sizes and its memberships copied in one pass into one file per group,
// each split again if still too large, so every level reads and writes the data once. One
// organization larger than the budget is still decided in memory: the bound is per
// organization. The payload file needs about 90 bytes of disk per planned user; everything
// under transform/.spill is removed at the end. Duplicates and rejects each wait in memory up to
// an eighth of the key records' share; past it they are sorted into run files there
// (sortedRuns) and merged as duplicates.parquet and rejects.parquet are written. The password
// hash file is indexed in memory up to a sixth of the limit; past it, its rows are
// hash-partitioned by owner into files and joined with the planned users partition by partition
// once every membership is decided (hashJoin), so only two partitions' indexes are in memory; a
// partition too large for its share is split again before it is matched. The mapping file
// (strategy mapping) is indexed in memory, pointer-free, up to a sixth of the limit, taken from
// the key records' share; past it, it is hash-partitioned by owner and joined with the users'
// ids and emails before the scan (mappingJoin), which then reads each user's keys from the
// merged match files; a partition whose index passes half the share while it is loaded is split
// (splitJoinFiles, shared with the password join). Either way, the rows that name no user are found after the scan, a bit per
// row (unmatchedRows), and listed in transform/mapping_unmatched.parquet.
//
// The stage sets the Go runtime's soft memory limit to 15/16 of the budget and GOGC to 25 for its
// duration, unless the process set a limit or the GOGC variable: its large structures (the
// arenas, the membership tables, the organization dictionary) are pointer-free, so frequent
// collections cost little, and the heap stays near the live set.
// Arrow buffers of the files read and written are reused through an arrowpool.Pool rather than
// left to the collector.
//
// # Concurrency
//
// Run uses GOMAXPROCS workers for the per-user rules and for deciding (WithWorkers), decodes
// Parquet columns in parallel, and encodes each output on a goroutine of its own while rows are
// produced. The CSV files (organizations, mapping, hashes) are parsed a few batches ahead of
// their reader on a goroutine of their own (csvTable, csvParser: encoding/csv's parsing into
// reused buffers). A Stage is safe to run once at a time per run
// directory (the command holds the run directory's lock).
package transform
