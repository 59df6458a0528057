// Package demodata generates the bundled demo sample: a deterministic, deliberately messy export
// of a Stytch Consumer project, with the side files a migration of it needs.
//
// # Files
//
// [Generate] writes four files into a folder:
//
//   - users.csv: the users in the format of Stytch's export utility (stytch-api.md §9): the
//     utility's 14 columns in its order, every string quoted, nested values as JSON text inside
//     quoted cells, empty cells for null, and the header line repeated at the start of every
//     page of 1,000 users, as the utility's current version writes it.
//   - orgs.csv: org_key,name,slug,allowed_domains for the organizations the users reference,
//     except one key ("umbrella") that users reference but the file leaves out.
//   - hashes.csv: password hashes for a few users (bcrypt, scrypt, pbkdf_2, md_5, argon_2id),
//     keyed by user_id or email, plus rows that must be rejected: an unknown hash type, a
//     malformed parameter and a hash whose owner becomes no member. The hashes are FAKE: random
//     bytes in the right shape, never derived from a password.
//   - migrate.yaml: the configuration of a migration of the sample (export_csv source,
//     organizations from trusted_metadata.org_ids and orgs.csv, hashes from hashes.csv).
//
// # What is messy
//
// The sample holds, in fixed proportions drawn from a seeded generator: the same email in two
// organizations (one user with two org ids, and two users in different organizations); the same
// email twice in one organization with a different verified flag, created_at and letter case (or
// Unicode normalization form); phone-only users; invalid emails; pending users; Unicode names and
// emails; oversized metadata (more than 4,096 bytes, more than 20 keys); users without an
// organization (no metadata, an empty object, an empty list, null); org_ids as a string or a
// list; users of an organization missing from orgs.csv; and a slug clash between an explicit
// slug and a derived one. Organization sizes follow a Zipf-like law, so a few are large.
//
// The same seed and size always give the same bytes; testdata/demo/ holds the committed output
// of [Generate] with [DefaultSeed] and [DefaultUsers], checked by this package's tests.
package demodata
