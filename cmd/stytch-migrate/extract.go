package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/stytch-migrate/stytch-migrate/internal/buildinfo"
	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/stages/extract"
	"github.com/stytch-migrate/stytch-migrate/stytch"
)

// newCmdExtract builds "extract": the source section of the config → extract/users.parquet.
func newCmdExtract(a *app) *cobra.Command {
	var (
		since       string
		onBadRecord string
	)
	cmd := &cobra.Command{
		Use:   "extract",
		Short: "Read every Consumer user from the configured source into extract/users.parquet",
		Long: `Read every Consumer user from the config's source (stytch_api, export_json, export_csv
or jsonl) into extract/users.parquet in the run directory. A malformed record stops the stage and
nothing is written, unless --on-bad-record=quarantine, which writes it to
extract/bad_records.parquet and exits with code 3. An interrupted stytch_api extraction resumes
where it stopped when rerun. --since TIME or --since last reads only users created after TIME or
after the newest user of the last successful extract; users.parquet then holds only those.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fc, err := a.config()
			if err != nil {
				return err
			}
			cfg := fc.Source
			if cmd.Flags().Changed("since") {
				cfg.Since = since
			}
			if cmd.Flags().Changed("on-bad-record") {
				cfg.OnBadRecord = onBadRecord
			}
			p, err := a.extractPlan(fc, cfg, false)
			if err != nil {
				return err
			}
			res, env, err := a.runOne(cmd.Context(), p)
			if errors.Is(err, extract.ErrConfig) || errors.Is(err, extract.ErrNoWatermark) {
				return pipeline.WithExitCode(err, pipeline.ExitConfig)
			}
			if err != nil {
				return err
			}
			if res.Partial {
				return partialError("extract: %d users written, %d bad records quarantined in %s",
					res.Counts[extract.CountUsers], res.Counts[extract.CountBadRecords], env.Dir.Path("extract/bad_records.parquet"))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "incremental (stytch_api): only users created after `TIME` (RFC 3339) or \"last\"")
	cmd.Flags().StringVar(&onBadRecord, "on-bad-record", "", "what a malformed record does: fail (default) or quarantine")
	return cmd
}

// apiSearcher builds the Consumer API client from the environment. Missing credentials exit
// with pipeline.ExitConfig.
func apiSearcher(a *app, cfg extract.Config) (extract.UserSearcher, error) {
	scfg, err := stytch.ConfigFromEnv(a.getenv, stytch.KindConsumer)
	if err != nil {
		return nil, pipeline.WithExitCode(err, pipeline.ExitConfig)
	}
	s, err := extract.NewAPISearcher(scfg, cfg.RequestsPerMinute, buildinfo.Version(), stytch.WithLogger(a.logger))
	if err != nil {
		return nil, pipeline.WithExitCode(err, pipeline.ExitConfig)
	}
	return s, nil
}
