package main

import (
	"github.com/spf13/cobra"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/stages/load"
)

// newCmdRollback builds "rollback": delete what this run's load created.
func newCmdRollback(a *app) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "rollback",
		Short: "Delete the organizations and members this run's load created",
		Long: `Delete exactly the organizations and members this run directory's load created (never the ones it
found existing), as load/ledger/ records them, with its own resumable ledger in
load/rollback_ledger/. External ids the load assigned to existing members stay. Needs --yes.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !yes {
				return usageError("rollback deletes organizations and members from the B2B project: pass --yes to confirm")
			}
			fc, err := a.config()
			if err != nil {
				return err
			}
			client, err := loadClient(a, fc.Load)
			if err != nil {
				return err
			}
			rb := load.NewRollback(fc.Load, client)
			env, lock, err := a.stageEnv(rb.Name(), fc.Load)
			if err != nil {
				return err
			}
			defer lock.Release() //nolint:errcheck // the stage's error wins
			res, err := pipeline.RunStage(cmd.Context(), env, rb)
			if err != nil {
				return err
			}
			return loadSummary(a, rb.Name(), res)
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm the deletion")
	return cmd
}
