package transform

import (
	"fmt"
	"strings"

	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// Reject scopes.
const (
	scopeUser       = "user"
	scopeMembership = "membership"
	scopePassword   = "password"
)

// User and membership reject reasons. A user gets at most one user-scope reason; they are
// checked in the order listed.
const (
	// ReasonNoEmail is a user without any email (rule 1).
	ReasonNoEmail = "no_email"
	// ReasonInvalidEmail is a primary email that is invalid after normalization (rule 2).
	ReasonInvalidEmail = "invalid_email"
	// ReasonInvalidMetadata is metadata text that is not a JSON object (not in the contract:
	// the extract stage should never produce it; checked right after rule 2).
	ReasonInvalidMetadata = "invalid_metadata"
	// ReasonNoOrganization is a user with no organization key (rule 3).
	ReasonNoOrganization = "no_organization"
	// ReasonMetadataTooLarge is metadata over a B2B limit (rule 4).
	ReasonMetadataTooLarge = "metadata_too_large"
	// ReasonInvalidExternalID is an external id outside [A-Za-z0-9._-]{1,128} (rule 7, checked
	// per user after rule 4).
	ReasonInvalidExternalID = "invalid_external_id"
	// ReasonUnknownOrganization is a membership of a key not in the organizations file (rule 5).
	ReasonUnknownOrganization = "unknown_organization"
	// ReasonInvalidOrganizationKey is a membership of a key that cannot be an organization
	// external id (no organizations file; rule 7).
	ReasonInvalidOrganizationKey = "invalid_organization_key"
	// ReasonExternalIDConflict is a surviving member whose external id another member of the same
	// organization keeps (rule 7).
	ReasonExternalIDConflict = "external_id_conflict"
)

// External-id sources recorded in Member.ExternalIDSource.
const (
	extFromExternalID uint8 = iota
	extFromUserID
	extFromMetadata
)

var extSourceNames = [...]string{"external_id", "user_id", "metadata"}

// Member warnings, as bits of payload.warnings.
const (
	warnUntrustedDropped uint8 = 1 << iota
	warnPhoneNotE164
)

var warningNames = [...]string{"untrusted_metadata_dropped", "mfa_phone_not_e164"}

// Survivor rules, in Member.SurvivorRule and Duplicate.Rule.
const (
	// RuleUnique is the survivor rule of a member nothing was merged into.
	RuleUnique = "unique"
	// RuleVerified means the survivor's primary email is verified and the other's is not.
	RuleVerified = "verified"
	// RuleEarliestCreatedAt means the survivor was created first.
	RuleEarliestCreatedAt = "earliest_created_at"
	// RuleSmallestUserID means the survivor has the smaller user_id in byte order.
	RuleSmallestUserID = "smallest_user_id"
)

// noCreatedAt sorts a user without created_at after every dated user.
const noCreatedAt = int64(1<<63 - 1)

// payload is everything a member row needs from its user, plus the dedupe keys.
type payload struct {
	// trusted and untrusted are set by emit only, from the users file (see row).
	userID, email, name, extID, phone, trusted, untrusted string
	created                                               int64
	position                                              int64
	// row is the user's row in users.parquet (from 0). The payload record keeps it instead of
	// the metadata texts, which emit reads from there again (metadataCursor).
	row               int64
	extSrc, warnings  uint8
	verified, pending bool
}

// planner applies the per-user rules (DESIGN rules 1-5, 7 and 8) to one user at a time. It is
// read-only after newPlanner, so workers share it.
type planner struct {
	cfg           Config
	orgPath       []string
	extPath       []string
	orgFile       map[string]*orgRow
	mapping       *mapping
	personal      map[string]bool
	mfa           bool
	dropUntrusted bool
}

func newPlanner(cfg Config, orgFile map[string]*orgRow, m *mapping) *planner {
	p := &planner{cfg: cfg, orgFile: orgFile, mapping: m,
		mfa:           *cfg.Members.MFAPhoneFromVerifiedPhone,
		dropUntrusted: cfg.Members.OversizedMetadata == OversizedDropUntrusted,
		personal:      map[string]bool{}}
	if cfg.Organizations.Strategy == StrategyMetadata {
		p.orgPath, _ = metadataPath(cfg.Organizations.MetadataField)
	}
	if cfg.Members.ExternalID != ExternalIDDefault {
		p.extPath, _ = metadataPath(cfg.Members.ExternalID)
	}
	for _, d := range cfg.Organizations.PersonalDomains {
		p.personal[strings.ToLower(strings.TrimSpace(d))] = true
	}
	return p
}

// userPlan is the outcome of the per-user rules: a user reject, or memberships (some of which
// may be rejected one by one) and the member payload.
type userPlan struct {
	reject   schemas.Reject
	rejected bool
	keys     []string
	// keyRejects holds a membership reject per key in keys that cannot be planned, or an empty
	// reason.
	keyRejects []schemas.Reject
	pl         payload
	// name holds the bytes of pl.name.
	name []byte
	// mapped, with strategy mapping, are the user's keys from the mapping file: those of its
	// user id, then those of its email. plan looks them up in the index as the rules reach
	// them; when the file was joined with the users instead (mappingJoin), the caller sets them
	// before plan.
	mapped []string
}

// plan applies the rules to u. The plan's strings may alias u's and out's own buffers, which
// the next plan into out overwrites; the caller copies what it keeps.
func (p *planner) plan(u *schemas.User, out *userPlan) {
	*out = userPlan{keys: out.keys[:0], keyRejects: out.keyRejects[:0], name: out.name[:0], mapped: out.mapped}
	// The mapping file's rows of the user id and the email are looked up (which also counts them
	// as matched, see mapping.unmatched) as soon as each is known, whatever becomes of the user.
	if p.mapping != nil {
		out.mapped = p.mapping.appendUserKeys(out.mapped[:0], u.UserID)
	}
	rej := func(reason, field, raw, detail string) {
		out.rejected = true
		out.reject = schemas.Reject{SourceUserID: u.UserID, Scope: scopeUser, Reason: reason,
			Field: field, RawValue: raw, Detail: detail, SourcePosition: u.SourcePosition}
	}
	// Rule 1: primary email.
	pi := primaryEmail(u.Emails)
	if pi < 0 {
		rej(ReasonNoEmail, "emails", "", "the user has no email address")
		return
	}
	// Rule 2: normalize and validate.
	email, ok, why := normalizeEmail(u.Emails[pi].Email)
	if !ok {
		rej(ReasonInvalidEmail, fmt.Sprintf("emails[%d].email", pi), u.Emails[pi].Email, why)
		return
	}
	if p.mapping != nil {
		out.mapped = p.mapping.appendEmailKeys(out.mapped, email)
	}
	trusted, terr := scanMetadata(u.TrustedMetadata)
	if terr != nil {
		rej(ReasonInvalidMetadata, "trusted_metadata", u.TrustedMetadata, terr.Error())
		return
	}
	untrusted, uerr := scanMetadata(u.UntrustedMetadata)
	if uerr != nil {
		rej(ReasonInvalidMetadata, "untrusted_metadata", u.UntrustedMetadata, uerr.Error())
		return
	}
	// Rule 3: organizations.
	if f, raw, detail := p.orgKeys(u, email, trusted.present, out); detail != "" {
		rej(ReasonNoOrganization, f, raw, detail)
		return
	}
	// Rule 4: metadata limits. The texts themselves are not carried: emit reads them from the
	// users file again (metadataCursor), leaving out untrusted metadata dropped here.
	pl := payload{userID: u.UserID, email: email, verified: u.Emails[pi].Verified, position: u.SourcePosition}
	if trusted.tooLarge() {
		rej(ReasonMetadataTooLarge, "trusted_metadata", "", sizeDetail(trusted))
		return
	}
	if untrusted.tooLarge() {
		if !p.dropUntrusted {
			rej(ReasonMetadataTooLarge, "untrusted_metadata", "", sizeDetail(untrusted))
			return
		}
		pl.warnings |= warnUntrustedDropped
	}
	// Rule 7 (per user): the external id.
	if f, raw, detail := p.externalID(u, trusted.present, &pl); detail != "" {
		rej(ReasonInvalidExternalID, f, raw, detail)
		return
	}
	// Rule 8: name, status, MFA phone.
	out.name = appendMemberName(out.name, u.FirstName, u.MiddleName, u.LastName)
	pl.name = bytesString(out.name)
	pl.pending = u.Status == "pending"
	pl.created = noCreatedAt
	if !u.CreatedAt.IsZero() {
		pl.created = u.CreatedAt.UnixMicro()
	}
	if p.mfa {
		pl.phone, pl.warnings = mfaPhone(u.PhoneNumbers, pl.warnings)
	}
	out.pl = pl
	// Rule 5: memberships against the organizations file.
	for _, k := range out.keys {
		r := schemas.Reject{}
		switch {
		case p.orgFile != nil && p.orgFile[k] == nil:
			r = schemas.Reject{Reason: ReasonUnknownOrganization, Detail: "org key not in the organizations file"}
		case p.orgFile == nil && !validOrgKey(k):
			r = schemas.Reject{Reason: ReasonInvalidOrganizationKey,
				Detail: "not a valid organization external id (1-128 characters of [A-Za-z0-9._|-])"}
		}
		if r.Reason != "" {
			r.SourceUserID, r.OrgKey, r.Scope, r.Field, r.RawValue, r.SourcePosition =
				u.UserID, k, scopeMembership, p.orgField(), k, u.SourcePosition
		}
		out.keyRejects = append(out.keyRejects, r)
	}
}

// orgField names the input the organization keys come from.
func (p *planner) orgField() string {
	switch p.cfg.Organizations.Strategy {
	case StrategyMetadata:
		return p.cfg.Organizations.MetadataField
	case StrategyEmailDomain:
		return "email"
	case StrategyMapping:
		return p.cfg.Organizations.MappingFile
	default:
		return "organizations.key"
	}
}

// orgKeys fills out.keys with the user's distinct organization keys in first-seen order. It
// returns a no_organization field, raw value and detail when there are none.
func (p *planner) orgKeys(u *schemas.User, email string, hasTrusted bool, out *userPlan) (field, raw, detail string) {
	o := p.cfg.Organizations
	var keys []string
	switch o.Strategy {
	case StrategySingle:
		keys = append(out.keys, o.Key)
	case StrategyEmailDomain:
		d := emailDomain(email)
		if p.personal[d] {
			if o.PersonalEmails != PersonalOrganization {
				return "email", email, "personal email domain " + d
			}
			d = o.PersonalOrgKey
		}
		keys = append(out.keys, d)
	case StrategyMapping:
		keys = append(out.keys, out.mapped...)
		if len(keys) == 0 {
			return "user_id", u.UserID, "no row for this user_id or email in the mapping file"
		}
	case StrategyMetadata:
		if !hasTrusted {
			return o.MetadataField, "", "no trusted metadata"
		}
		v, found := lookupPath(u.TrustedMetadata, p.orgPath)
		if !found {
			return o.MetadataField, "", "field missing"
		}
		var err error
		keys, err = orgKeysFromValue(v, out.keys)
		if err != nil {
			return o.MetadataField, v, err.Error()
		}
		if len(keys) == 0 {
			return o.MetadataField, v, "no organization key in the field"
		}
	}
	out.keys = dedupeKeys(keys)
	return "", "", ""
}

// dedupeKeys removes repeated keys, keeping the first of each (keys compare case-sensitively).
func dedupeKeys(keys []string) []string {
	if len(keys) < 2 {
		return keys
	}
	out := keys[:1]
	for _, k := range keys[1:] {
		dup := false
		for _, seen := range out {
			if seen == k {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, k)
		}
	}
	return out
}

// externalID sets pl.extID and pl.extSrc, or returns why the user has no valid external id.
func (p *planner) externalID(u *schemas.User, hasTrusted bool, pl *payload) (field, raw, detail string) {
	field = "user_id"
	pl.extID, pl.extSrc = u.UserID, extFromUserID
	if u.ExternalID != "" {
		field, pl.extID, pl.extSrc = "external_id", u.ExternalID, extFromExternalID
	}
	if p.extPath != nil && hasTrusted {
		if v, found := lookupPath(u.TrustedMetadata, p.extPath); found {
			s, err := scalarFromValue(v)
			if err != nil {
				return p.cfg.Members.ExternalID, v, err.Error()
			}
			if s != "" {
				field, pl.extID, pl.extSrc = p.cfg.Members.ExternalID, s, extFromMetadata
			}
		}
	}
	if !validExternalID(pl.extID) {
		return field, pl.extID, "want 1-128 characters of [A-Za-z0-9._-]"
	}
	return "", "", ""
}

// mfaPhone returns the first verified phone in E.164 form; a verified phone in another form
// adds a warning.
func mfaPhone(phones []schemas.PhoneNumber, warnings uint8) (string, uint8) {
	bad := false
	for _, ph := range phones {
		if !ph.Verified {
			continue
		}
		if n := strings.TrimSpace(ph.PhoneNumber); validE164(n) {
			return n, warnings
		}
		bad = true
	}
	if bad {
		warnings |= warnPhoneNotE164
	}
	return "", warnings
}

func sizeDetail(m metaInfo) string {
	return fmt.Sprintf("%d bytes compact (max %d), %d top-level keys (max %d)",
		m.compactLen, maxMetadataBytes, m.keys, maxMetadataKeys)
}
