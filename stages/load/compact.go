package load

import (
	"context"
	"fmt"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// Result file permissions.
const resultPerm = 0o644

// plannedBit marks, in compaction's position map, a ledger row whose member is in the plan.
const plannedBit = uint64(1) << 63

// compaction is what compacting the ledger found.
type compaction struct {
	orgCounts    map[string]int64
	memberCounts map[string]int64
	members      int64
	// missing counts planned members without any ledger entry.
	missing int64
}

// compactLedger writes the latest ledger outcome of every planned organization and member to
// load/organizations.parquet and load/members.parquet (committed together at the end).
//
// It never holds the ledger whole: a first pass maps each member's 16-byte key to the position of
// its latest entry (about 30 MB for a million members), a pass over the plan marks the planned
// ones, and a second pass over the ledger writes the marked latest entries, in ledger order.
func compactLedger(ctx context.Context, dir *pipeline.RunDir, orgs []schemas.Organization, membersPath string,
	meta schemas.FileMeta, ropts []schemas.ReaderOption, wopts []schemas.WriterOption) (*compaction, error) {
	ledgerDir := dir.Path(LedgerDir)
	res := &compaction{orgCounts: map[string]int64{}, memberCounts: map[string]int64{}}
	kh := newKeyHasher()

	rows, err := ledgerRows(ledgerDir)
	if err != nil {
		return nil, fmt.Errorf("compact ledger: %w", err)
	}
	latestOrg := map[string]schemas.LedgerEntry{}
	pos := make(map[rowKey]uint64, rows)
	var n uint64
	err = scanLedger(ledgerDir, func(e *schemas.LedgerEntry) error {
		n++
		switch e.Kind {
		case kindOrganization:
			latestOrg[e.OrgKey] = *e
		case kindMember:
			pos[kh.key(kindMember, e.OrgKey, e.SourceUserID)] = n
		}
		return nil
	}, ropts...)
	if err != nil {
		return nil, fmt.Errorf("compact ledger: %w", err)
	}

	r, err := schemas.Open(membersPath, schemas.Members, ropts...)
	if err != nil {
		return nil, fmt.Errorf("compact ledger: %w", err)
	}
	for r.Next() {
		m := r.Row()
		k := kh.key(kindMember, m.OrgKey, m.SourceUserID)
		if v, ok := pos[k]; ok {
			pos[k] = v | plannedBit
		} else {
			res.missing++
		}
	}
	err = r.Err()
	_ = r.Close()
	if err != nil {
		return nil, fmt.Errorf("compact ledger: %w", err)
	}
	if res.missing > 0 {
		return res, fmt.Errorf("compact ledger: %d planned members have no outcome in %s", res.missing, LedgerDir)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	orgFile, err := pipeline.CreateAtomic(dir.Path(schemas.OrganizationResults.Path()), resultPerm)
	if err != nil {
		return nil, fmt.Errorf("compact ledger: %w", err)
	}
	defer orgFile.Abort() //nolint:errcheck // no-op after Commit
	memFile, err := pipeline.CreateAtomic(dir.Path(schemas.MemberResults.Path()), resultPerm)
	if err != nil {
		return nil, fmt.Errorf("compact ledger: %w", err)
	}
	defer memFile.Abort() //nolint:errcheck // no-op after Commit

	ow, err := schemas.NewWriter(orgFile, schemas.OrganizationResults, meta, wopts...)
	if err != nil {
		return nil, fmt.Errorf("compact ledger: %w", err)
	}
	for i := range orgs {
		o := &orgs[i]
		e, ok := latestOrg[o.OrgKey]
		row := schemas.OrganizationResult{OrgKey: o.OrgKey, ExternalID: o.ExternalID, Slug: o.Slug}
		if ok {
			row.OrganizationID, row.Outcome, row.ErrorType, row.ErrorMessage = e.OrganizationID, e.Outcome, e.ErrorType, e.ErrorMessage
			row.Attempts, row.RequestID = e.Attempts, e.RequestID
		} else {
			row.Outcome, row.ErrorType = OutcomeFailed, ErrTypeUnresolved
			row.ErrorMessage = "organization has no outcome in the ledger"
		}
		res.orgCounts[row.Outcome]++
		if err := ow.Append(&row); err != nil {
			_ = ow.Close()
			return nil, fmt.Errorf("compact ledger: %w", err)
		}
	}
	if err := ow.Close(); err != nil {
		return nil, fmt.Errorf("compact ledger: %w", err)
	}

	mw, err := schemas.NewWriter(memFile, schemas.MemberResults, meta, wopts...)
	if err != nil {
		return nil, fmt.Errorf("compact ledger: %w", err)
	}
	n = 0
	var row schemas.MemberResult
	err = scanLedger(ledgerDir, func(e *schemas.LedgerEntry) error {
		n++
		if e.Kind != kindMember || pos[kh.key(kindMember, e.OrgKey, e.SourceUserID)] != n|plannedBit {
			return nil
		}
		row = schemas.MemberResult{SourceUserID: e.SourceUserID, OrgKey: e.OrgKey, EmailAddress: e.EmailAddress,
			ExternalID: e.ExternalID, OrganizationID: e.OrganizationID, MemberID: e.MemberID, Outcome: e.Outcome,
			ErrorType: e.ErrorType, ErrorMessage: e.ErrorMessage, Attempts: e.Attempts, RequestID: e.RequestID}
		res.memberCounts[e.Outcome]++
		res.members++
		return mw.Append(&row)
	}, ropts...)
	if err != nil {
		_ = mw.Close()
		return nil, fmt.Errorf("compact ledger: %w", err)
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("compact ledger: %w", err)
	}
	if err := orgFile.Commit(); err != nil {
		return nil, fmt.Errorf("compact ledger: %w", err)
	}
	if err := memFile.Commit(); err != nil {
		return nil, fmt.Errorf("compact ledger: %w", err)
	}
	return res, nil
}
