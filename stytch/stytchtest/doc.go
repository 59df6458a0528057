// Package stytchtest is an in-memory, Stytch-compatible API server for tests, the demo and dry
// rehearsals of a migration ("stytch-migrate emulator").
//
// # Endpoints and semantics
//
// It serves exactly the endpoints package stytch calls, with the paths, JSON shapes and error
// bodies of the wire reference (shared/stytch-api.md):
//
//	POST   /v1/users/search                                  Consumer Search Users
//	GET    /v1/users/{user_id}                               Consumer Get User (id or external id; flat body)
//	POST   /v1/b2b/organizations                             Create Organization
//	POST   /v1/b2b/organizations/search                      Search Organizations
//	GET    /v1/b2b/organizations/{organization_id}           Get (id, slug or external id)
//	PUT    /v1/b2b/organizations/{organization_id}           Update
//	DELETE /v1/b2b/organizations/{organization_id}           Delete (with its members)
//	POST   /v1/b2b/organizations/members/search              Search Members
//	POST   /v1/b2b/organizations/{organization_id}/members   Create Member
//	GET    /v1/b2b/organizations/{organization_id}/member    Get Member (?member_id= or ?email_address=)
//	PUT    /v1/b2b/organizations/{organization_id}/members/{member_id}
//	DELETE /v1/b2b/organizations/{organization_id}/members/{member_id}
//	POST   /v1/b2b/passwords/migrate                         Passwords Migrate
//
// Rules enforced: organization slug and external id unique in the project
// (organization_slug_already_used; organization_external_id_already_used, an UNCONFIRMED type);
// member email (case-insensitive) and external id unique in an organization
// (duplicate_member_email, duplicate_member_external_id); email syntax (invalid_email); external
// ids of 1–128 characters of [A-Za-z0-9._|-] (the pipe as the SDK docs allow; invalid_external_id
// is UNCONFIRMED); slugs of 2–128 alphanumerics and "-._~" with at least one alphanumeric
// (invalid_organization_slug); organization names of 1–128 characters; metadata objects of at
// most 4,096 bytes of compact JSON and 20 top-level keys (metadata_too_large,
// metadata_too_many_keys, metadata_invalid_format). Searches are ordered by (created_at, id) with
// opaque cursors, default limit 100, maximum 1000, next_cursor null on the last page, and
// user_search_invalid_cursor / user_search_invalid_limit errors.
//
// Authentication is Basic auth against two projects, one Consumer and one B2B. Wrong or missing
// credentials get 401 unauthorized_credentials; Consumer credentials on a /v1/b2b route get 400
// invalid_b2b_endpoint and B2B credentials on a Consumer route 400 invalid_consumer_endpoint (the
// status is UNCONFIRMED; branch on the type). Ids look like Stytch's: organization-test-<uuid>,
// member-test-<uuid>, request-id-test-<uuid>.
//
// Passwords Migrate creates the member when missing (member_created), marks the email verified,
// and keeps only the hash type and a short [Fingerprint], never the hash.
//
// # Faults
//
// [Faults] (per kind of route with [WithReadFaults] / [WithWriteFaults]) inject, from a seeded
// RNG: 500/503 errors, ghost writes (applied, then answered 500), dropped connections (before or
// after applying a write), and latency with jitter. [WithRateLimit] adds a fixed one-second
// window limit answered with 429 too_many_requests (Retry-After only with [WithRetryAfter]).
// [Server.Stats] counts requests per route, writes applied, 429s and faults.
//
// # Tests
//
// [Server.Snapshot] deep-copies the B2B state; [Server.DeleteMember] and [Server.UpdateMember]
// change it behind the client's back; [Server.AddUsers] and [Server.LoadUsersFile] seed Consumer
// users (a JSON array as the export utility writes, or JSON Lines). [Server.ConsumerConfig] and
// [Server.B2BConfig] return ready client configs.
//
//	srv := stytchtest.NewServer(stytchtest.WithRateLimit(50))
//	if err := srv.Start(""); err != nil { ... }
//	defer srv.Close()
//	client, err := stytch.NewB2BClient(srv.B2BConfig())
package stytchtest
