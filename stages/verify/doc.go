// Package verify reads the B2B project back after a load and reconciles it with the plan. It
// writes verify/drift.parquet (schemas.Drift): one row per difference, and nothing else. The
// stage finishes partial (exit code 3) when there is any drift and ok (0) only when the target
// matches the plan.
//
// # What is read
//
// Planned organizations come from transform/organizations.parquet; each is looked up with Get
// Organization using its external id (the org key) in the path. Because that path also accepts
// organization ids and slugs, an organization found this way whose organization_external_id is
// not the key is not ours: the planned one is reported missing. Members of the organizations
// found are read with Search Members (organization_ids filter, OrgsPerSearch ids per call,
// PageSize members per page, cursor pagination), each page waiting on a limiter of
// SearchRatePerMinute (Stytch documents 100 requests per minute for search) besides the client's
// own rate limit. Search returns non-deleted members only, so a deleted member is missing.
// load/members.parquet, when present, gives each planned member the member id and the outcome
// load recorded; load/organizations.parquet the slug load used.
//
// # Kinds of drift
//
//   - organization_missing: a planned organization is not found by its external id. Every
//     planned member of it is also reported member_missing, so that counting missing members
//     needs no join.
//   - member_missing: a planned member is found neither by its external id nor by its email.
//   - member_unexpected: a member of a planned organization matches no planned member (one added
//     behind our back, or one that existed before the migration).
//   - field_drift: a field differs. Organizations: organization_name and organization_slug.
//     Members: email_address, name, external_id, status, trusted_metadata and
//     untrusted_metadata, and member_id when load recorded another id (the member was deleted and
//     made again). Metadata compares as canonical JSON (keys sorted, compact, numbers as
//     written; absent, null and {} are equal). A planned member found by email but not by
//     external id is field drift on external_id.
//
// # Planned members load did not load
//
// A planned member whose load outcome is failed, conflict or skipped_org_failed stays in the
// comparison: the plan is what should be in the target, whatever load managed. Such a member is
// reported member_missing, with the load outcome and error type in Actual. With a conflict,
// the member found under the same email is another one (load found it with another external id
// and left it alone): it is named in the missing row rather than reported unexpected, so one
// conflict is one row. If such a member is present after all (fixed by hand, or a later load),
// it is compared like any other: verify reports what the target holds, not what load believed.
//
// # Memory
//
// The plan is streamed. Organizations are verified a window at a time: consecutive rows of
// organizations.parquet holding about WindowMembers planned members (an organization larger than
// that forms its own window). For each window, members.parquet and load/members.parquet are read
// once, keeping only that window's rows; the members found are held for one search chunk of
// organizations at a time. Memory is therefore bounded by the window, not by the project; the
// price is one pass over members.parquet per window (a few for most projects).
//
// # Not checked
//
// Organizations of the target that the plan does not name are not listed (Search Members needs
// organization ids, and a B2B project often holds other organizations). Passwords, roles and MFA
// settings are not compared.
package verify
