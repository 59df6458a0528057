package main

import (
	"github.com/spf13/cobra"

	"github.com/stytch-migrate/stytch-migrate/schemas"
)

// newCmdVerify builds "verify": the B2B project read back and compared with the plan.
func newCmdVerify(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Read the B2B project back and compare it with the plan",
		Long: `Read the B2B project (STYTCH_B2B_PROJECT_ID, STYTCH_B2B_SECRET, STYTCH_API_BASE_URL) back and
compare it with transform/ (and load/members.parquet when present): organizations by external id,
members with Search Members (verify.page_size per page, at most verify.search_rate_per_minute
searches a minute, default 100). Every difference (organization_missing, member_missing,
member_unexpected, field_drift on email, name, external id, status or metadata) is a row of
verify/drift.parquet. Exits 0 when the target matches the plan, 3 when there is drift.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fc, err := a.config()
			if err != nil {
				return err
			}
			p, err := a.verifyPlan(fc)
			if err != nil {
				return err
			}
			res, env, err := a.runOne(cmd.Context(), p)
			if err != nil {
				return err
			}
			a.logger.Info("verify finished", "counts", res.Counts)
			if res.Partial {
				return partialError("verify: %d differences between the plan and the B2B project (see %s)",
					res.Counts["drift"], env.Dir.Path(schemas.Drift.Path()))
			}
			return nil
		},
	}
}
