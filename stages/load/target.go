package load

import (
	"context"
	"time"

	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// RemoteOrganization is what the load stage needs to know of a B2B organization in the target.
type RemoteOrganization struct {
	ID         string
	ExternalID string
	Slug       string
	Name       string
	// CreatedAt is the organization's creation time as the target reports it (zero when
	// unknown).
	CreatedAt time.Time
	// RequestID and Attempts describe the call that returned it.
	RequestID string
	Attempts  int
}

// RemoteMember is what the load stage needs to know of a B2B member in the target.
type RemoteMember struct {
	ID             string
	OrganizationID string
	Email          string
	ExternalID     string
	Status         string
	// CreatedAt is the member's creation time as the target reports it (zero when unknown).
	CreatedAt time.Time
	// Created is set by MigratePassword: true when the call created the member.
	Created bool
	// RequestID and Attempts describe the call that returned it.
	RequestID string
	Attempts  int
}

// Target is the B2B project the load stage writes to: the handful of Stytch B2B calls it needs.
// The one implementation used outside tests is [Client] (Stytch's REST API through the stytch
// package, or the stytchtest emulator); keeping the interface here lets the stage's logic be
// read without HTTP details.
//
// Every method blocks until the target answers, is safe for concurrent use, and returns errors
// from the stytch package (*stytch.Error, *stytch.TransportError), so the stytch.Is... helpers
// classify them: stytch.IsNotFound for a missing object, stytch.IsAlreadyExists for a clash,
// stytch.MayHaveApplied for a write whose answer was lost. Organization and member references
// accept a Stytch id or an external id, as the API does.
type Target interface {
	// GetOrganization looks an organization up by id, slug or external id.
	GetOrganization(ctx context.Context, ref string) (RemoteOrganization, error)
	// CreateOrganization creates the planned organization.
	CreateOrganization(ctx context.Context, o *schemas.Organization) (RemoteOrganization, error)
	// SetOrganizationExternalID sets an existing organization's external id.
	SetOrganizationExternalID(ctx context.Context, orgID, externalID string) (RemoteOrganization, error)
	// DeleteOrganization deletes an organization and all its members.
	DeleteOrganization(ctx context.Context, orgID string) error
	// GetMemberByEmail looks a member of an organization up by email address.
	GetMemberByEmail(ctx context.Context, orgID, email string) (RemoteMember, error)
	// GetMemberByExternalID looks a member of an organization up by external id.
	GetMemberByExternalID(ctx context.Context, orgID, externalID string) (RemoteMember, error)
	// CreateMember creates the planned member in the organization orgID.
	CreateMember(ctx context.Context, orgID string, m *schemas.Member) (RemoteMember, error)
	// MigratePassword adds the planned member's password hash, creating the member when it does
	// not exist (RemoteMember.Created says which). Stytch marks the email verified.
	MigratePassword(ctx context.Context, orgID string, m *schemas.Member, p *schemas.MemberPassword) (RemoteMember, error)
	// SetMemberExternalID sets an existing member's external id.
	SetMemberExternalID(ctx context.Context, orgID, memberID, externalID string) (RemoteMember, error)
	// DeleteMember deletes a member.
	DeleteMember(ctx context.Context, orgID, memberID string) error
}

// TargetStats are the transport counters of a target, for the stage's result.
type TargetStats struct {
	// Requests counts HTTP attempts, retries included.
	Requests int64
	// Retries counts attempts made after a failed one.
	Retries int64
	// RateLimited counts 429 answers.
	RateLimited int64
	// ServerErrors counts 5xx answers.
	ServerErrors int64
	// TransportErrors counts attempts without an HTTP answer.
	TransportErrors int64
}

// Instrumented is implemented by targets that count their requests and measure their latency
// (as [Client] does). The stage uses it for its counts and for sizing its concurrency.
type Instrumented interface {
	// Stats returns the transport counters so far.
	Stats() TargetStats
	// Latency returns the recent median and 99th percentile latency of one HTTP attempt, without
	// the time spent waiting on the rate limiter; ok is false before any sample.
	Latency() (p50, p99 time.Duration, ok bool)
	// Rate returns the rate the shared limiter currently allows, in requests per second.
	Rate() float64
}
