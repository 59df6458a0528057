package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stytch-migrate/stytch-migrate/stages/report"
)

// newCmdReport builds "report": the run directory as one self-contained report.html.
func newCmdReport(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "report",
		Short: "Write report.html: funnel, rejects, duplicates, load, drift and every staged file",
		Long: `Write RUN_DIR/report.html from whatever the run directory holds: the funnel users → eligible →
members → loaded → verified, rejects by reason, duplicates per organization, load outcomes,
requests and 429s over time, the largest organizations, verify's drift, and every file with its
rows and sha256. The page is self-contained (inline CSS and SVG, no script, no network) and says
what it cannot show when a stage has not run. --config is optional (section report).`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fc, err := a.config()
			if err != nil {
				return err
			}
			_, env, err := a.runOne(cmd.Context(), a.reportPlan(fc))
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(a.stdout, env.Dir.Path(report.ReportFile))
			return err
		},
	}
}
