package stytchtest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/stytch-migrate/stytch-migrate/stytch"
)

// fingerprintBytes is how much of SHA-256(hash) a fingerprint keeps: enough for a test to tell
// which hash was migrated, too little to be of use to anyone else.
const fingerprintBytes = 6

// Fingerprint returns the short fingerprint the emulator stores instead of a migrated hash, so a
// test can check which hash reached a member.
func Fingerprint(hash string) string {
	sum := sha256.Sum256([]byte(hash))
	return hex.EncodeToString(sum[:fingerprintBytes])
}

var hashTypes = map[string]bool{
	stytch.HashTypeBcrypt: true, stytch.HashTypeMD5: true, stytch.HashTypeArgon2I: true,
	stytch.HashTypeArgon2ID: true, stytch.HashTypeSHA1: true, stytch.HashTypeSHA512: true,
	stytch.HashTypeScrypt: true, stytch.HashTypePHPass: true, stytch.HashTypePBKDF2: true,
}

// checkHash applies light per-type syntax checks with Stytch's error types.
func checkHash(p *stytch.MigratePasswordParams) *apiErr {
	hash := p.Hash.Reveal()
	if hash == "" {
		return badRequest("invalid_hash", "hash is required.")
	}
	if !hashTypes[p.HashType] {
		return badRequest("invalid_hash_type", "hash_type is not supported.")
	}
	switch p.HashType {
	case stytch.HashTypeBcrypt:
		if !strings.HasPrefix(hash, "$2a$") && !strings.HasPrefix(hash, "$2b$") && !strings.HasPrefix(hash, "$2y$") {
			return badRequest("invalid_bcrypt_hash", "The bcrypt hash is invalid.")
		}
	case stytch.HashTypePHPass:
		if !strings.HasPrefix(hash, "$P$") && !strings.HasPrefix(hash, "$H$") {
			return badRequest("invalid_phpass_hash_prefix", "The phpass hash must start with $P$ or $H$.")
		}
	case stytch.HashTypeScrypt:
		if !strings.HasPrefix(hash, "$") {
			if _, err := base64.StdEncoding.DecodeString(hash); err != nil {
				return badRequest("invalid_base64_scrypt_hash", "The scrypt hash must be base64.")
			}
			if p.ScryptConfig == nil || p.ScryptConfig.Salt == "" {
				return badRequest("invalid_scrypt_salt_length", "scrypt_config with a salt is required.")
			}
		}
	case stytch.HashTypePBKDF2:
		if _, err := base64.StdEncoding.DecodeString(hash); err != nil {
			return badRequest("invalid_pbkdf_2_hash", "The pbkdf_2 hash must be base64.")
		}
		if p.PBKDF2Config == nil || p.PBKDF2Config.Salt == "" {
			return badRequest("invalid_pbkdf_2_salt", "pbkdf_2_config with a salt is required.")
		}
		if p.PBKDF2Config.IterationAmount <= 0 {
			return badRequest("invalid_pbkdf_2_iteration_amount", "pbkdf_2_config.iteration_amount must be positive.")
		}
	}
	return nil
}

func (s *Server) migratePassword(rc *reqCtx) (int, any) {
	var p stytch.MigratePasswordParams
	if e := decodeBody(rc, &p); e != nil {
		return e.status, e
	}
	in := &memberInput{
		EmailAddress: p.EmailAddress, Name: p.Name, TrustedMetadata: p.TrustedMetadata,
		UntrustedMetadata: p.UntrustedMetadata, MFAPhoneNumber: p.MFAPhoneNumber, Roles: p.Roles,
		ExternalID: p.ExternalID,
	}
	if e := in.validate(); e != nil {
		return e.status, e
	}
	if e := checkHash(&p); e != nil {
		return e.status, e
	}
	fp := Fingerprint(p.Hash.Reveal())
	p.Hash = stytch.Secret{} // drop the hash as soon as it is fingerprinted
	memberID := "member-test-" + s.faults.uuid()
	passwordID := "member-password-test-" + s.faults.uuid()

	b := s.b2b
	b.mu.Lock()
	defer b.mu.Unlock()
	org := b.lookupOrg(p.OrganizationID)
	if org == nil {
		return errOrgNotFound.status, errOrgNotFound
	}
	created := false
	rec := org.byEmail[normalizeEmail(p.EmailAddress)]
	var m stytch.Member
	if rec != nil {
		if rec.m.MemberPasswordID != "" {
			e := badRequest(stytch.ErrorTypePasswordAlreadyExists, "The member already has a password.")
			return e.status, e
		}
		m = cloneMember(rec.m)
	} else {
		m = newMember(memberID, org.org.OrganizationID, in, now())
		if p.SetPhoneNumberVerified && m.MFAPhoneNumber != "" {
			m.MFAPhoneNumberVerified = true
		}
		if e := org.checkMemberUnique(&m, nil); e != nil {
			return e.status, e
		}
		created = true
	}
	m.MemberPasswordID = passwordID
	m.EmailAddressVerified = true
	m.UpdatedAt = now()
	next := &memberRec{m: m, hashType: p.HashType, fingerprint: fp}
	if rec != nil {
		org.unindexMember(rec)
	}
	org.indexMember(next)
	return http.StatusOK, &stytch.MigratePasswordResponse{RequestID: rc.id, StatusCode: http.StatusOK,
		MemberID: m.MemberID, MemberCreated: created, Member: m, Organization: org.org}
}
