// Package stytch is a small typed REST client for the Stytch endpoints a Consumer → B2B
// migration uses, with the retry and adaptive rate-control decorators the load stage relies on.
//
// The official Go SDK cannot be installed here, so the package mirrors its vocabulary (Consumer
// Users; B2B Organizations, Members, Passwords) to keep a later swap mechanical. Paths, JSON field
// names and response shapes follow the project's wire reference (shared/stytch-api.md) field for
// field; the wire tests compare every request with a fixture under testdata/stytch.
//
// # Clients
//
// A [ConsumerClient] reads the source project:
//
//	cfg, err := stytch.ConfigFromEnv(os.Getenv, stytch.KindConsumer)
//	src, err := stytch.NewConsumerClient(cfg, stytch.WithVersion(version))
//	err = src.Users.SearchAll(ctx, stytch.SearchUsersParams{Limit: stytch.MaxSearchLimit}, func(p *stytch.SearchUsersResponse) error { ... })
//
// A [B2BClient] writes the target project:
//
//	dst, err := stytch.NewB2BClient(cfg, stytch.WithRateLimit(65, 10))
//	org, err := dst.Organizations.Create(ctx, stytch.CreateOrganizationParams{...})
//	m, err := dst.Members.Create(ctx, stytch.CreateMemberParams{OrganizationID: org.Organization.OrganizationID, ...})
//	m, err = dst.Members.Get(ctx, stytch.GetMemberParams{OrganizationID: "acme", EmailAddress: "a+b@acme.com"})
//	mig, err := dst.Passwords.Migrate(ctx, stytch.MigratePasswordParams{...})
//
// Every response type keeps RequestID and StatusCode. Path parameters are path-escaped (an
// external id with "|" is sent as %7C) and may be ids, slugs or external ids where Stytch allows.
//
// # Credentials and hosts
//
// [ConfigFromEnv] reads STYTCH_CONSUMER_PROJECT_ID / STYTCH_CONSUMER_SECRET or STYTCH_B2B_PROJECT_ID
// / STYTCH_B2B_SECRET through a getenv function, and STYTCH_API_BASE_URL as an override. Without
// an override the host is chosen like the SDKs: project ids starting with "project-live-" go to
// https://api.stytch.com, all others to https://test.stytch.com. Plain http is refused unless the
// host is loopback (the emulator). Requests carry Basic auth, Content-Type: application/json and
// User-Agent: stytch-migrate/<version>. Secrets are held in [Secret], and [Config] and [Client]
// redact them in every fmt verb, slog and JSON.
//
// # Errors
//
// Any status other than 200/201 is an [*Error] (Stytch's error body; a non-JSON body gets
// error_type "http_<status>"), and a request that got no answer is a [*TransportError]; both are
// wrapped as "<operation>: %w". Classify by behaviour with [IsRateLimited], [IsRetryable],
// [IsAlreadyExists], [IsNotFound], [IsPermanent] and [IsCredentials]. [MayHaveApplied] tells that
// a write may have taken effect although the call failed (an attempt ended in a 5xx, a timeout or
// a dropped connection): resolve it by looking the object up, never by blindly creating again.
//
// # Retries and rate control
//
// The transport is a stack of decorators, rclone style:
//
//	retry (429, 408, 5xx, network errors; capped exponential backoff, full jitter, Retry-After)
//	  → rate limit (one shared, adaptive [Limiter]; every attempt waits on it)
//	    → http.Transport
//
// The [Limiter] lowers its rate on 429 to just under what the server accepted over the last
// second, pauses and probes until the server's window resets, then recovers additively (fast up
// to 98% of the limit it learned, slowly beyond), so a client configured above the server's limit
// settles just under it. Concurrency is the caller's business; [Limiter.Rate] tells how fast the
// client currently goes. [Client.Stats] and [WithObserver] expose attempts, retries and 429s.
//
// Stytch's published limits: 65 r/s overall for bulk imports, 100 r/s for Passwords Migrate,
// 150/min for Consumer Search Users and 100/min (or /s, unconfirmed) for the B2B searches.
package stytch
