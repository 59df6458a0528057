package stytch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is an error answered by the Stytch API: any HTTP status other than 200 or 201. Its fields
// are those of Stytch's error body; StatusCode is always the real HTTP status. A body that is not
// Stytch JSON (a proxy's HTML page, an empty body) gets ErrorType "http_<status>" and a short,
// sanitized excerpt of the body as ErrorMessage.
//
// Branch on ErrorType (or on the Is... helpers), not on StatusCode: several statuses are
// unconfirmed in Stytch's documentation.
type Error struct {
	StatusCode   int             `json:"status_code"`
	RequestID    string          `json:"request_id"`
	ErrorType    string          `json:"error_type"`
	ErrorMessage string          `json:"error_message"`
	ErrorURL     string          `json:"error_url,omitempty"`
	ErrorDetails json.RawMessage `json:"error_details,omitempty"`

	// Attempts is how many times the request was sent before this answer (1 without retries).
	Attempts int `json:"-"`
	// MaybeApplied is true when an earlier attempt of this write ended in a way that does not say
	// whether it was applied (5xx, timeout, dropped connection). See [MayHaveApplied].
	MaybeApplied bool `json:"-"`
	// RetryAfter is the server's Retry-After hint in seconds, when one was sent.
	RetryAfter float64 `json:"-"`
}

// Error implements error. It contains no credential: Stytch never echoes the secret.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("stytch: ")
	b.WriteString(e.ErrorType)
	b.WriteString(" (")
	b.WriteString(strconv.Itoa(e.StatusCode))
	b.WriteString(")")
	if e.ErrorMessage != "" {
		b.WriteString(": ")
		b.WriteString(e.ErrorMessage)
	}
	if e.RequestID != "" {
		b.WriteString(" [request_id=")
		b.WriteString(e.RequestID)
		b.WriteString("]")
	}
	return b.String()
}

// TransportError is a request that got no HTTP answer: connection refused or dropped, a timeout,
// a cancelled context. Err is the underlying error.
type TransportError struct {
	Method string
	// Path is the request path, without host or query.
	Path string
	// Attempts is how many times the request was sent.
	Attempts int
	// MaybeApplied is true when the request (or an earlier attempt) reached the network and the
	// outcome is unknown. It is false when the request never left, e.g. the context was done while
	// waiting on the rate limiter.
	MaybeApplied bool
	Err          error
}

// Error implements error.
func (e *TransportError) Error() string {
	return fmt.Sprintf("stytch: %s %s: %v (attempts %d)", e.Method, e.Path, e.Err, e.Attempts)
}

// Unwrap returns the underlying error.
func (e *TransportError) Unwrap() error { return e.Err }

// Error types, as Stytch spells them, that the classification helpers use. Several statuses for
// them are unconfirmed; branch on the type.
const (
	ErrorTypeDuplicateMemberEmail      = "duplicate_member_email"
	ErrorTypeDuplicateMemberExternalID = "duplicate_member_external_id"
	ErrorTypeOrganizationSlugUsed      = "organization_slug_already_used"
	// ErrorTypeOrganizationExternalIDUsed is UNCONFIRMED: Stytch documents no dedicated type for an
	// organization external id clash. The emulator answers it; real Stytch may answer another.
	ErrorTypeOrganizationExternalIDUsed = "organization_external_id_already_used"
	ErrorTypePasswordAlreadyExists      = "password_already_exists"
	ErrorTypeMemberNotFound             = "member_not_found"
	ErrorTypeOrganizationNotFound       = "organization_not_found"
	ErrorTypeUserNotFound               = "user_not_found"
	ErrorTypeEmailNotFound              = "email_not_found"
	ErrorTypeUnauthorizedCredentials    = "unauthorized_credentials"
	ErrorTypeInvalidB2BEndpoint         = "invalid_b2b_endpoint"
	ErrorTypeInvalidConsumerEndpoint    = "invalid_consumer_endpoint"
	ErrorTypeTooManyRequests            = "too_many_requests"
	ErrorTypeInternalServerError        = "internal_server_error"
	ErrorTypeServerUnavailable          = "server_unavailable"
	ErrorTypeSearchTimeout              = "search_timeout"
	ErrorTypeInvalidEmail               = "invalid_email"
)

// alreadyExistsTypes are the error types that mean "the object you are creating exists".
var alreadyExistsTypes = map[string]bool{
	ErrorTypeDuplicateMemberEmail:       true,
	ErrorTypeDuplicateMemberExternalID:  true,
	ErrorTypeOrganizationSlugUsed:       true,
	ErrorTypeOrganizationExternalIDUsed: true,
	ErrorTypePasswordAlreadyExists:      true,
	"duplicate_email":                   true,
	"duplicate_user_external_id":        true,
}

// notFoundTypes are the error types that mean "no such object".
var notFoundTypes = map[string]bool{
	ErrorTypeMemberNotFound:       true,
	ErrorTypeOrganizationNotFound: true,
	ErrorTypeUserNotFound:         true,
	ErrorTypeEmailNotFound:        true,
}

// credentialTypes are the error types that mean the credentials or project kind are wrong: a run
// cannot succeed until the configuration is fixed.
var credentialTypes = map[string]bool{
	ErrorTypeUnauthorizedCredentials:   true,
	ErrorTypeInvalidB2BEndpoint:        true,
	ErrorTypeInvalidConsumerEndpoint:   true,
	"unauthorized_project_id_live":     true,
	"unauthorized_project_id_test":     true,
	"test_id_used_in_live_environment": true,
	"live_id_used_in_test_environment": true,
	"wrong_stack_live":                 true,
	"wrong_stack_test":                 true,
	"use_https":                        true,
}

// retryableTypes are error types worth sending again whatever their status.
var retryableTypes = map[string]bool{
	ErrorTypeTooManyRequests:     true,
	ErrorTypeInternalServerError: true,
	ErrorTypeServerUnavailable:   true,
	ErrorTypeSearchTimeout:       true,
	"client_closed_request":      true,
}

// retryableStatus reports whether an HTTP status is worth retrying.
func retryableStatus(code int) bool {
	return code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500
}

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// IsRateLimited reports whether err is a 429 / too_many_requests answer.
func IsRateLimited(err error) bool {
	e, ok := AsError(err)
	return ok && (e.StatusCode == http.StatusTooManyRequests || e.ErrorType == ErrorTypeTooManyRequests)
}

// IsRetryable reports whether sending the same request again may succeed: 429, 408, 5xx,
// server_unavailable, search_timeout, internal_server_error, and transport errors (except a
// cancelled or expired caller context).
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	if e, ok := AsError(err); ok {
		return retryableStatus(e.StatusCode) || retryableTypes[e.ErrorType]
	}
	var te *TransportError
	if errors.As(err, &te) {
		return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) ||
			isAttemptTimeout(err)
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// IsAlreadyExists reports whether err says the object being created exists: a duplicate member
// email or external id, a used organization slug or external id, an existing password.
func IsAlreadyExists(err error) bool {
	e, ok := AsError(err)
	return ok && alreadyExistsTypes[e.ErrorType]
}

// IsNotFound reports whether err says the object does not exist (member, organization, user or
// email not found, or a bare 404).
func IsNotFound(err error) bool {
	e, ok := AsError(err)
	if !ok {
		return false
	}
	if notFoundTypes[e.ErrorType] {
		return true
	}
	return e.StatusCode == http.StatusNotFound && !credentialTypes[e.ErrorType]
}

// IsCredentials reports whether err says the credentials or the project kind are wrong (401,
// unauthorized_credentials, Consumer credentials on a B2B route and the like). Retrying cannot
// help; the run should stop.
func IsCredentials(err error) bool {
	e, ok := AsError(err)
	return ok && (e.StatusCode == http.StatusUnauthorized || credentialTypes[e.ErrorType])
}

// IsPermanent reports whether err is an API answer that will not change if the same request is
// sent again (a 4xx other than 408 and 429). Transport errors are never permanent.
func IsPermanent(err error) bool {
	e, ok := AsError(err)
	return ok && !IsRetryable(err) && e.StatusCode >= 400 && e.StatusCode < 500
}

// MayHaveApplied reports whether a write may have taken effect although err says otherwise: some
// attempt ended in a 5xx, a timeout or a dropped connection after the request was sent. The load
// stage must then resolve (look the object up) rather than assume nothing happened. It is false
// for nil and for a definitive first answer.
func MayHaveApplied(err error) bool {
	if err == nil {
		return false
	}
	var te *TransportError
	if errors.As(err, &te) {
		return te.MaybeApplied
	}
	if e, ok := AsError(err); ok {
		return e.MaybeApplied
	}
	return false
}

// maxErrorExcerpt bounds the body excerpt kept from a non-JSON error body.
const maxErrorExcerpt = 200

// decodeError builds the *Error for a non-2xx answer. body may be anything.
func decodeError(status int, body []byte) *Error {
	e := &Error{}
	if err := json.Unmarshal(body, e); err != nil || e.ErrorType == "" {
		*e = Error{
			ErrorType:    "http_" + strconv.Itoa(status),
			ErrorMessage: excerpt(body),
		}
		if e.ErrorMessage == "" {
			e.ErrorMessage = http.StatusText(status)
		}
	}
	e.StatusCode = status
	return e
}

// excerpt returns a short single-line printable prefix of body.
func excerpt(body []byte) string {
	s := strings.TrimSpace(string(body))
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > maxErrorExcerpt {
		cut := maxErrorExcerpt
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// isAttemptTimeout reports whether err is a per-attempt timeout rather than the caller's context.
func isAttemptTimeout(err error) bool { return errors.Is(err, ErrAttemptTimeout) }
