package transform

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Organization strategies (organizations.strategy).
const (
	// StrategyMetadata reads the organization keys of a user from a trusted metadata field.
	StrategyMetadata = "metadata"
	// StrategyEmailDomain uses the domain of the user's normalized primary email as the key.
	StrategyEmailDomain = "email_domain"
	// StrategyMapping reads user_id or email → org_key rows from a CSV file.
	StrategyMapping = "mapping"
	// StrategySingle puts every user into one organization.
	StrategySingle = "single"
)

// What to do with personal email addresses under StrategyEmailDomain
// (organizations.personal_emails).
const (
	// PersonalReject rejects users with a personal address as no_organization.
	PersonalReject = "reject"
	// PersonalOrganization puts users with a personal address into one configured organization.
	PersonalOrganization = "organization"
)

// External-id sources (members.external_id) other than a trusted_metadata.<path>.
const (
	// ExternalIDDefault uses the Consumer external_id when set, else the user_id.
	ExternalIDDefault = "default"
)

// Oversized-metadata policies (members.oversized_metadata).
const (
	// OversizedReject rejects the user as metadata_too_large.
	OversizedReject = "reject"
	// OversizedDropUntrusted drops oversized untrusted metadata with a warning; oversized trusted
	// metadata is still rejected.
	OversizedDropUntrusted = "drop_untrusted"
)

// Defaults of the configuration.
const (
	// DefaultMetadataField is the trusted metadata field read by StrategyMetadata.
	DefaultMetadataField = "trusted_metadata.org_ids"
	// DefaultSingleKey is the organization key of StrategySingle.
	DefaultSingleKey = "default"
	// DefaultPersonalOrgKey is the key personal addresses go to with PersonalOrganization.
	DefaultPersonalOrgKey = "personal"
	// DefaultMemoryLimit is the memory budget of the stage (1 GiB).
	DefaultMemoryLimit ByteSize = 1 << 30
	// minMemoryLimit is the smallest budget accepted; tests go lower with WithSpillThreshold.
	minMemoryLimit ByteSize = 16 << 20
	// metadataPrefix starts every metadata field path.
	metadataPrefix = "trusted_metadata."
)

// DefaultPersonalDomains returns the personal email domains used by StrategyEmailDomain when
// organizations.personal_domains is not set. The caller owns the returned slice.
func DefaultPersonalDomains() []string {
	return []string{
		"aol.com", "gmail.com", "googlemail.com", "gmx.com", "gmx.de", "hotmail.com", "icloud.com",
		"live.com", "mail.com", "mail.ru", "me.com", "msn.com", "outlook.com", "proton.me",
		"protonmail.com", "qq.com", "yahoo.com", "yandex.ru", "zoho.com",
	}
}

// Config is the transform stage's configuration: the organizations, members and passwords
// sections of migrate.yaml, plus the stage's own tuning under transform. The zero value is not
// ready; call [Config.WithDefaults] (or [DefaultConfig]) and then [Config.Validate].
type Config struct {
	// Organizations says how users map to organizations and what the organizations look like.
	Organizations OrganizationsConfig `yaml:"organizations" json:"organizations,omitempty"`
	// Members says how member fields are derived.
	Members MembersConfig `yaml:"members" json:"members,omitempty"`
	// Passwords names the optional password hash file.
	Passwords PasswordsConfig `yaml:"passwords" json:"passwords,omitempty"`
	// Transform holds the stage's resource settings.
	Transform TuningConfig `yaml:"transform" json:"transform,omitempty"`
}

// OrganizationsConfig is the organizations section of migrate.yaml.
type OrganizationsConfig struct {
	// Strategy is one of metadata, email_domain, mapping or single (default metadata).
	Strategy string `yaml:"strategy" json:"strategy,omitempty"`
	// MetadataField is the trusted_metadata.<path> holding a user's organization keys, a string
	// or a list of strings (strategy metadata; default trusted_metadata.org_ids).
	MetadataField string `yaml:"metadata_field" json:"metadata_field,omitempty"`
	// File is an optional organizations CSV (org_key,name,slug,allowed_domains). When set, a
	// membership of a key not in it is rejected as unknown_organization.
	File string `yaml:"file" json:"file,omitempty"`
	// MappingFile is the CSV of user_id or email → org_key rows (strategy mapping).
	MappingFile string `yaml:"mapping_file" json:"mapping_file,omitempty"`
	// PersonalDomains are the email domains treated as personal (strategy email_domain). Nil
	// means DefaultPersonalDomains; an empty list means none.
	PersonalDomains []string `yaml:"personal_domains" json:"personal_domains,omitempty"`
	// PersonalEmails says what happens to users with a personal address: reject (default,
	// no_organization) or organization (they join PersonalOrgKey).
	PersonalEmails string `yaml:"personal_emails" json:"personal_emails,omitempty"`
	// PersonalOrgKey is the organization of personal addresses with personal_emails:
	// organization (default "personal").
	PersonalOrgKey string `yaml:"personal_org_key" json:"personal_org_key,omitempty"`
	// Key is the one organization key of strategy single (default "default").
	Key string `yaml:"key" json:"key,omitempty"`
	// Defaults are settings every planned organization gets.
	Defaults OrganizationDefaults `yaml:"defaults" json:"defaults,omitempty"`
}

// OrganizationDefaults are the B2B organization settings every planned organization gets. Empty
// values are left out of the create call, so Stytch's own defaults apply.
type OrganizationDefaults struct {
	// AuthMethods is ALL_ALLOWED or RESTRICTED.
	AuthMethods string `yaml:"auth_methods" json:"auth_methods,omitempty"`
	// AllowedAuthMethods lists the methods allowed with AuthMethods RESTRICTED.
	AllowedAuthMethods []string `yaml:"allowed_auth_methods" json:"allowed_auth_methods,omitempty"`
	// EmailJITProvisioning is RESTRICTED or NOT_ALLOWED.
	EmailJITProvisioning string `yaml:"email_jit_provisioning" json:"email_jit_provisioning,omitempty"`
	// EmailInvites is ALL_ALLOWED, RESTRICTED or NOT_ALLOWED.
	EmailInvites string `yaml:"email_invites" json:"email_invites,omitempty"`
	// MFAPolicy is REQUIRED_FOR_ALL or OPTIONAL.
	MFAPolicy string `yaml:"mfa_policy" json:"mfa_policy,omitempty"`
}

// MembersConfig is the members section of migrate.yaml.
type MembersConfig struct {
	// ExternalID is "default" (Consumer external_id, else user_id) or trusted_metadata.<path>.
	ExternalID string `yaml:"external_id" json:"external_id,omitempty"`
	// OversizedMetadata is reject (default) or drop_untrusted.
	OversizedMetadata string `yaml:"oversized_metadata" json:"oversized_metadata,omitempty"`
	// MFAPhoneFromVerifiedPhone makes a verified E.164 phone the member's MFA phone (default
	// true).
	MFAPhoneFromVerifiedPhone *bool `yaml:"mfa_phone_from_verified_phone" json:"mfa_phone_from_verified_phone,omitempty"`
}

// PasswordsConfig is the passwords section of migrate.yaml.
type PasswordsConfig struct {
	// HashesFile is an optional CSV of password hashes to migrate.
	HashesFile string `yaml:"hashes_file" json:"hashes_file,omitempty"`
}

// TuningConfig holds the stage's resource settings (the transform section of migrate.yaml).
type TuningConfig struct {
	// MemoryLimit is the memory budget; past it, memberships spill to disk (default 1GiB).
	MemoryLimit ByteSize `yaml:"memory_limit" json:"memory_limit,omitempty"`
}

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config { return Config{}.WithDefaults() }

// WithDefaults returns c with its empty settings replaced by their defaults.
func (c Config) WithDefaults() Config {
	o := &c.Organizations
	if o.Strategy == "" {
		o.Strategy = StrategyMetadata
	}
	if o.MetadataField == "" {
		o.MetadataField = DefaultMetadataField
	}
	if o.PersonalDomains == nil {
		o.PersonalDomains = DefaultPersonalDomains()
	}
	if o.PersonalEmails == "" {
		o.PersonalEmails = PersonalReject
	}
	if o.PersonalOrgKey == "" {
		o.PersonalOrgKey = DefaultPersonalOrgKey
	}
	if o.Key == "" {
		o.Key = DefaultSingleKey
	}
	m := &c.Members
	if m.ExternalID == "" {
		m.ExternalID = ExternalIDDefault
	}
	if m.OversizedMetadata == "" {
		m.OversizedMetadata = OversizedReject
	}
	if m.MFAPhoneFromVerifiedPhone == nil {
		t := true
		m.MFAPhoneFromVerifiedPhone = &t
	}
	if c.Transform.MemoryLimit == 0 {
		c.Transform.MemoryLimit = DefaultMemoryLimit
	}
	return c
}

// Validate checks a configuration that has its defaults filled in. Its error lists every
// problem, each naming the setting.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	o := c.Organizations
	switch o.Strategy {
	case StrategyMetadata:
		if _, err := metadataPath(o.MetadataField); err != nil {
			bad("organizations.metadata_field: %v", err)
		}
	case StrategyEmailDomain:
		switch o.PersonalEmails {
		case PersonalReject:
		case PersonalOrganization:
			if !validOrgKey(o.PersonalOrgKey) {
				bad("organizations.personal_org_key %q: want 1-128 characters of [A-Za-z0-9._|-]", o.PersonalOrgKey)
			}
		default:
			bad("organizations.personal_emails %q: want %s or %s", o.PersonalEmails, PersonalReject, PersonalOrganization)
		}
	case StrategyMapping:
		if o.MappingFile == "" {
			bad("organizations.mapping_file: required with strategy %s", StrategyMapping)
		}
	case StrategySingle:
		if !validOrgKey(o.Key) {
			bad("organizations.key %q: want 1-128 characters of [A-Za-z0-9._|-]", o.Key)
		}
	default:
		bad("organizations.strategy %q: want %s, %s, %s or %s", o.Strategy,
			StrategyMetadata, StrategyEmailDomain, StrategyMapping, StrategySingle)
	}
	if o.MappingFile != "" && o.Strategy != StrategyMapping {
		bad("organizations.mapping_file: only used with strategy %s (strategy is %s)", StrategyMapping, o.Strategy)
	}
	d := o.Defaults
	checkEnum := func(name, v string, allowed ...string) {
		if v != "" && !contains(allowed, v) {
			bad("organizations.defaults.%s %q: want one of %s", name, v, strings.Join(allowed, ", "))
		}
	}
	checkEnum("auth_methods", d.AuthMethods, "ALL_ALLOWED", "RESTRICTED")
	checkEnum("email_jit_provisioning", d.EmailJITProvisioning, "RESTRICTED", "NOT_ALLOWED")
	checkEnum("email_invites", d.EmailInvites, "ALL_ALLOWED", "RESTRICTED", "NOT_ALLOWED")
	checkEnum("mfa_policy", d.MFAPolicy, "REQUIRED_FOR_ALL", "OPTIONAL")
	for _, m := range d.AllowedAuthMethods {
		checkEnum("allowed_auth_methods", m, "sso", "magic_link", "email_otp", "password",
			"google_oauth", "microsoft_oauth", "slack_oauth", "github_oauth", "hubspot_oauth")
	}
	if len(d.AllowedAuthMethods) > 0 && d.AuthMethods != "RESTRICTED" {
		bad("organizations.defaults.allowed_auth_methods: only applies with auth_methods RESTRICTED")
	}
	m := c.Members
	if m.ExternalID != ExternalIDDefault {
		if _, err := metadataPath(m.ExternalID); err != nil {
			bad("members.external_id %q: want %s or trusted_metadata.<path>", m.ExternalID, ExternalIDDefault)
		}
	}
	if m.OversizedMetadata != OversizedReject && m.OversizedMetadata != OversizedDropUntrusted {
		bad("members.oversized_metadata %q: want %s or %s", m.OversizedMetadata, OversizedReject, OversizedDropUntrusted)
	}
	if c.Transform.MemoryLimit < minMemoryLimit {
		bad("transform.memory_limit %s: want at least %s", c.Transform.MemoryLimit, minMemoryLimit)
	}
	return errors.Join(errs...)
}

// metadataPath splits a trusted_metadata.<path> field into its keys.
func metadataPath(field string) ([]string, error) {
	rest, ok := strings.CutPrefix(field, metadataPrefix)
	if !ok || rest == "" {
		return nil, fmt.Errorf("%q: want trusted_metadata.<path>", field)
	}
	keys := strings.Split(rest, ".")
	for _, k := range keys {
		if k == "" {
			return nil, fmt.Errorf("%q: empty key in path", field)
		}
	}
	return keys, nil
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// ByteSize is a number of bytes that YAML and flags may write with a unit: 512MiB, 1GiB, 800MB,
// 65536.
type ByteSize int64

// byteUnits are the accepted suffixes, longest first.
var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
}

// ParseByteSize parses a size such as "512MiB", "1GiB", "800MB" or "65536".
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range byteUnits {
		if num, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(num), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q: want a number with an optional unit (KiB, MiB, GiB, KB, MB, GB)", s)
	}
	return ByteSize(n * float64(mult)), nil
}

// String formats the size with the largest binary unit that divides it.
func (b ByteSize) String() string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b != 0 && int64(b)%u.mult == 0 {
			return strconv.FormatInt(int64(b)/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// Set parses s into b, so a ByteSize can be a command-line flag (pflag.Value).
func (b *ByteSize) Set(s string) error {
	v, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// Type names the flag type for help texts.
func (b *ByteSize) Type() string { return "size" }

// UnmarshalText parses a size from YAML or JSON text.
func (b *ByteSize) UnmarshalText(text []byte) error { return b.Set(string(text)) }

// MarshalText writes the size with its unit.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }
