package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/stytch-migrate/stytch-migrate/internal/demodata"
	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/schemas"
	"github.com/stytch-migrate/stytch-migrate/stytch"
	"github.com/stytch-migrate/stytch-migrate/stytch/stytchtest"
)

// Demo defaults.
const (
	// defaultDemoDir is where the demo runs when --run-dir is not given.
	defaultDemoDir = "stytch-migrate-demo"
	// demoMarker marks a folder the demo made, so that a later demo may replace it.
	demoMarker = ".stytch-migrate-demo"
	// demoInput is the run-directory folder the sample is written to.
	demoInput = "input"
	// defaultDemoRate is the load rate of the demo: the emulator has no limit, and a newcomer
	// should not wait for Stytch's 65 requests/s.
	defaultDemoRate = 300
)

// newCmdDemo builds "demo": the whole pipeline on the bundled sample against the emulator.
func newCmdDemo(a *app) *cobra.Command {
	var (
		users int
		rate  float64
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole migration on a bundled messy sample against the built-in Stytch emulator",
		Long: `Run extract, transform, load, verify and report on a bundled sample of a few thousand users (an
export CSV with repeated headers, duplicates within and across organizations, phone-only and
invalid users, oversized metadata, a password hash file), against the Stytch emulator started in
this process: no credentials and no network needed. The run directory (default ./` + defaultDemoDir + `)
gets the sample under input/ and every staged file; the summary, the report and how to open the
files are printed at the end. A directory a previous demo made is replaced; any other non-empty
directory is refused.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.runDirPath == "" {
				a.runDirPath = defaultDemoDir
			}
			if err := prepareDemoDir(a.runDirPath); err != nil {
				return err
			}
			input := filepath.Join(a.runDirPath, demoInput)
			if err := demodata.Generate(input, demodata.DefaultSeed, users); err != nil {
				return fmt.Errorf("demo: write the sample: %w", err)
			}

			srv := stytchtest.NewServer()
			if err := srv.Start("127.0.0.1:0"); err != nil {
				return fmt.Errorf("demo: start the emulator: %w", err)
			}
			defer srv.Close()
			a.getenv = emulatorEnv(srv.B2BConfig(), a.getenv)
			fmt.Fprintf(a.stdout, "demo: %d sample users in %s, Stytch emulator at %s\n\n", users, input, srv.URL)

			// The sample's own config; reset the cache so a --config flag cannot win over it.
			a.configPath = filepath.Join(input, demodata.ConfigFile)
			fc, err := a.config()
			if err != nil {
				return err
			}
			fc.Load.Rate = rate
			sum, err := a.runPipeline(cmd.Context(), fc, pipeline.RunOptions{})
			if sum != nil {
				printSummary(a.stdout, sum)
				printDemoGuide(a.stdout, a.runDirPath, sum)
			}
			// Rejects are the point of a messy sample (summary.json says 3): the demo succeeded
			// when every stage ran.
			return err
		},
	}
	cmd.Flags().IntVar(&users, "users", demodata.DefaultUsers, "how many sample users to generate")
	cmd.Flags().Float64Var(&rate, "rate", defaultDemoRate, "load requests per second against the emulator")
	return cmd
}

// prepareDemoDir makes dir ready for a fresh demo: created if missing, replaced if a previous
// demo made it, refused if it holds anything else.
func prepareDemoDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("demo: %w", err)
	case len(entries) == 0:
	default:
		if _, err := os.Stat(filepath.Join(dir, demoMarker)); err != nil {
			return usageError("demo: %s is not empty and was not made by a demo; pass --run-dir with a new folder", dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("demo: replace the previous demo: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, demoMarker), []byte("made by stytch-migrate demo; the next demo replaces this folder\n"), 0o644)
}

// emulatorEnv returns a getenv that answers the B2B credential variables with the emulator's
// and everything else from next.
func emulatorEnv(cfg stytch.Config, next func(string) string) func(string) string {
	return func(name string) string {
		switch name {
		case stytch.EnvB2BProjectID:
			return cfg.ProjectID
		case stytch.EnvB2BSecret:
			return cfg.Secret.Reveal()
		case stytch.EnvAPIBaseURL:
			return cfg.BaseURL
		}
		return next(name)
	}
}

// printDemoGuide says where the results are and how to look at them.
func printDemoGuide(w io.Writer, dir string, sum *pipeline.Summary) {
	counts := map[string]map[string]int64{}
	for _, st := range sum.Stages {
		counts[st.Name] = st.Counts
	}
	printReconciliation(w, counts)
	if sum.ExitCode == pipeline.ExitPartial {
		fmt.Fprintln(w, "\nExit code 3 means some records were rejected: the sample is messy on purpose. The rejects,\nwith their reasons, are in transform/rejects.parquet.")
	}
	abs, _ := filepath.Abs(dir)
	fmt.Fprintf(w, "\nreport:   %s\nsummary:  %s\nmanifest: %s\n", filepath.Join(abs, "report.html"),
		filepath.Join(abs, pipeline.SummaryFile), filepath.Join(abs, pipeline.ManifestFile))
	fmt.Fprintf(w, "\nLook at any staged file:\n  stytch-migrate inspect %s --limit 5\n", filepath.Join(dir, schemas.Rejects.Path()))
	fmt.Fprintf(w, "or query it with DuckDB:\n  duckdb -c \"SELECT reason, count(*) FROM '%s' GROUP BY reason ORDER BY 2 DESC\"\n",
		filepath.Join(dir, schemas.Rejects.Path()))
}
