package main

import (
	"github.com/spf13/cobra"

	"github.com/stytch-migrate/stytch-migrate/internal/buildinfo"
	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/stages/load"
	"github.com/stytch-migrate/stytch-migrate/stytch"
)

// newCmdLoad builds "load": transform/ → the B2B project, with load/ledger and results.
func newCmdLoad(a *app) *cobra.Command {
	var dryRun, retryFailed bool
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Create the planned organizations and members in the B2B project",
		Long: `Make the B2B project (STYTCH_B2B_PROJECT_ID, STYTCH_B2B_SECRET, STYTCH_API_BASE_URL) hold what
transform/ planned: organizations first, then members in parallel under one shared, adaptive rate
limit (load.rate, default 65 requests/s). Outcomes are flushed to load/ledger/ every few seconds;
an interrupted load resumes where it stopped when rerun, without creating anything twice. The
results go to load/organizations.parquet and load/members.parquet; failed or conflicting rows
exit with code 3. --retry-failed tries the failed rows again. --dry-run looks everything up and
writes load/dry_run_*.parquet without a single write.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fc, err := a.config()
			if err != nil {
				return err
			}
			p, err := a.loadPlan(fc, load.WithDryRun(dryRun), load.WithRetryFailed(retryFailed))
			if err != nil {
				return err
			}
			res, _, err := a.runOne(cmd.Context(), p)
			if err != nil {
				return err
			}
			return loadSummary(a, p.stage.Name(), res)
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "look everything up and write the plan, without writing to the B2B project")
	cmd.Flags().BoolVar(&retryFailed, "retry-failed", false, "try again the rows whose last outcome is failed")
	return cmd
}

// loadClient builds the B2B client of the load and rollback commands from the environment.
func loadClient(a *app, cfg load.Config) (*load.Client, error) {
	if err := cfg.WithDefaults().Validate(); err != nil {
		return nil, pipeline.WithExitCode(err, pipeline.ExitConfig)
	}
	scfg, err := stytch.ConfigFromEnv(a.getenv, stytch.KindB2B)
	if err != nil {
		return nil, pipeline.WithExitCode(err, pipeline.ExitConfig)
	}
	c, err := load.NewClient(scfg, cfg, stytch.WithVersion(buildinfo.Version()), stytch.WithLogger(a.logger))
	if err != nil {
		return nil, pipeline.WithExitCode(err, pipeline.ExitConfig)
	}
	return c, nil
}

// loadSummary prints the counts of a load, dry run or rollback and turns a partial result into
// exit code 3.
func loadSummary(a *app, name string, res *pipeline.Result) error {
	a.logger.Info(name+" finished", "counts", res.Counts, "details", res.Details)
	if res.Partial {
		return partialError("%s: finished with failed or conflicting rows (see the counts above and load/*.parquet)", name)
	}
	return nil
}
