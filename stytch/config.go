package stytch

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
)

// Kind says which family of Stytch project a client talks to. Consumer and B2B projects have
// separate project ids, secrets and routes (`/v1/...` versus `/v1/b2b/...`).
type Kind int

const (
	// KindConsumer is a Stytch Consumer project: the source of a migration (Users).
	KindConsumer Kind = iota + 1
	// KindB2B is a Stytch B2B project: the target of a migration (Organizations, Members).
	KindB2B
)

// String returns "consumer" or "b2b".
func (k Kind) String() string {
	switch k {
	case KindConsumer:
		return "consumer"
	case KindB2B:
		return "b2b"
	default:
		return fmt.Sprintf("kind(%d)", int(k))
	}
}

// Environment variable names read by [ConfigFromEnv].
const (
	EnvConsumerProjectID = "STYTCH_CONSUMER_PROJECT_ID"
	EnvConsumerSecret    = "STYTCH_CONSUMER_SECRET"
	EnvB2BProjectID      = "STYTCH_B2B_PROJECT_ID"
	EnvB2BSecret         = "STYTCH_B2B_SECRET"
	// EnvAPIBaseURL overrides the host chosen from the project id, for a custom domain or the
	// local emulator. It applies to both project kinds.
	EnvAPIBaseURL = "STYTCH_API_BASE_URL"
)

// Hosts chosen from the project id, as every Stytch SDK does.
const (
	// BaseURLLive is used for project ids starting with [LiveProjectPrefix].
	BaseURLLive = "https://api.stytch.com"
	// BaseURLTest is used for every other project id.
	BaseURLTest = "https://test.stytch.com"
	// LiveProjectPrefix marks a live project id.
	LiveProjectPrefix = "project-live-"
)

// redacted replaces a secret wherever a value is printed or logged.
const redacted = "[REDACTED]"

// Secret holds a credential (a project secret or a password hash). It never prints, logs or
// marshals its value: every fmt verb, slog and encoding/json see "[REDACTED]". Use [Secret.Reveal]
// at the one place the value must go on the wire.
type Secret struct {
	value string
}

// NewSecret wraps a credential.
func NewSecret(value string) Secret { return Secret{value: value} }

// Reveal returns the credential itself. Call it only to put the value on the wire.
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.value == "" }

// String returns "[REDACTED]" (or "" for an empty secret).
func (s Secret) String() string {
	if s.value == "" {
		return ""
	}
	return redacted
}

// GoString returns the same as String, so %#v does not reveal the value.
func (s Secret) GoString() string { return `stytch.Secret("` + s.String() + `")` }

// Format implements fmt.Formatter so that every verb, including %x and %q, prints the redacted
// form.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(s.GoString()))
		return
	}
	_, _ = f.Write([]byte(s.String()))
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON writes the redacted form; a Secret never leaves the process through JSON.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalText writes the redacted form.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Config says which project a client talks to and how to reach it. Its String, GoString, Format
// and LogValue never reveal the secret.
type Config struct {
	// Kind is the project family; it chooses the environment variable names and is checked by
	// [NewConsumerClient] and [NewB2BClient].
	Kind Kind
	// ProjectID is the Stytch project id, e.g. "project-test-<uuid>".
	ProjectID string
	// Secret is the project secret.
	Secret Secret
	// BaseURL overrides the host chosen from ProjectID (custom domain or emulator). Plain http is
	// accepted only for loopback hosts.
	BaseURL string
}

// String describes the config without its secret.
func (c Config) String() string {
	return fmt.Sprintf("stytch.Config{Kind:%s ProjectID:%s Secret:%s BaseURL:%s}",
		c.Kind, c.ProjectID, c.Secret, c.BaseURL)
}

// GoString is the same as String, so %#v does not reveal the secret.
func (c Config) GoString() string { return c.String() }

// Format implements fmt.Formatter: every verb prints the redacted description.
func (c Config) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// LogValue implements slog.LogValuer.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("kind", c.Kind.String()),
		slog.String("project_id", c.ProjectID),
		slog.String("secret", c.Secret.String()),
		slog.String("base_url", c.BaseURL),
	)
}

// MissingEnvError reports a required environment variable that is unset or empty. It names the
// variable, never a value.
type MissingEnvError struct {
	// Names lists the missing variables.
	Names []string
}

// Error implements error.
func (e *MissingEnvError) Error() string {
	return "stytch: missing environment variable " + strings.Join(e.Names, ", ")
}

// EnvNames returns the project id and secret variable names for a kind.
func EnvNames(kind Kind) (projectID, secret string) {
	if kind == KindB2B {
		return EnvB2BProjectID, EnvB2BSecret
	}
	return EnvConsumerProjectID, EnvConsumerSecret
}

// ConfigFromEnv builds the config of one project kind from environment variables read through
// getenv (pass os.Getenv in main, a map lookup in tests). A missing project id or secret returns
// a *MissingEnvError naming the variables. STYTCH_API_BASE_URL, when set, becomes BaseURL and is
// validated like [Config.Validate].
func ConfigFromEnv(getenv func(string) string, kind Kind) (Config, error) {
	idName, secretName := EnvNames(kind)
	cfg := Config{
		Kind:      kind,
		ProjectID: strings.TrimSpace(getenv(idName)),
		Secret:    NewSecret(strings.TrimSpace(getenv(secretName))),
		BaseURL:   strings.TrimSpace(getenv(EnvAPIBaseURL)),
	}
	var missing []string
	if cfg.ProjectID == "" {
		missing = append(missing, idName)
	}
	if cfg.Secret.IsZero() {
		missing = append(missing, secretName)
	}
	if len(missing) > 0 {
		return Config{}, &MissingEnvError{Names: missing}
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Errors returned by [Config.Validate].
var (
	// ErrInsecureBaseURL is returned for a plain-http base URL whose host is not loopback.
	ErrInsecureBaseURL = errors.New("stytch: plain http base URL is allowed only for loopback hosts")
	// ErrInvalidBaseURL is returned for a base URL that is not an absolute http(s) URL without
	// credentials, query or fragment.
	ErrInvalidBaseURL = errors.New("stytch: invalid base URL")
	// ErrMissingCredentials is returned for a config without project id or secret.
	ErrMissingCredentials = errors.New("stytch: project id and secret are required")
)

// Validate checks the credentials are present and the base URL is acceptable.
func (c Config) Validate() error {
	if c.ProjectID == "" || c.Secret.IsZero() {
		return ErrMissingCredentials
	}
	_, err := c.ResolveBaseURL()
	return err
}

// ResolveBaseURL returns the URL requests are sent to: BaseURL when set (trailing slash trimmed),
// else the live or test host chosen from the project id. Plain http is refused unless the host is
// loopback (127.0.0.0/8, ::1 or localhost).
func (c Config) ResolveBaseURL() (string, error) {
	if c.BaseURL == "" {
		if strings.HasPrefix(c.ProjectID, LiveProjectPrefix) {
			return BaseURLLive, nil
		}
		return BaseURLTest, nil
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil {
		return "", fmt.Errorf("%w: %q", ErrInvalidBaseURL, c.BaseURL)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		// The URL is echoed without its userinfo so a credential pasted into it does not leak.
		u.User = nil
		return "", fmt.Errorf("%w: %q", ErrInvalidBaseURL, u.Redacted())
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !IsLoopbackHost(u.Hostname()) {
			return "", fmt.Errorf("%w: %q", ErrInsecureBaseURL, c.BaseURL)
		}
	default:
		return "", fmt.Errorf("%w: %q: scheme must be https", ErrInvalidBaseURL, c.BaseURL)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// IsLoopbackHost reports whether host (without port) is "localhost" or a loopback IP address.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// UnmarshalJSON reads a JSON string into the secret (used by the emulator to decode request
// bodies).
func (s *Secret) UnmarshalJSON(data []byte) error {
	var v string
	if err := json.Unmarshal(data, &v); err != nil {
		return errors.New("stytch: secret must be a JSON string")
	}
	s.value = v
	return nil
}
