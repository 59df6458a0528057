package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/stages/transform"
)

// newCmdRun builds "run": every stage in order, skipping what is up to date.
func newCmdRun(a *app) *cobra.Command {
	var opts pipeline.RunOptions
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the migration: extract, transform, load, verify and report, skipping what is up to date",
		Long: `Run the stages in order under one run directory lock: extract, transform, load, verify, report.
A stage whose last run succeeded, whose config section is unchanged and whose recorded inputs and
outputs are unchanged is skipped (manifest.json decides); a stage that reruns marks the later ones
stale, so they rerun too. --from STAGE reruns STAGE and every later stage regardless; --until
STAGE stops after it. The run ends with summary.json (per-stage counts, load outcomes, requests,
retries, durations and the exit code: the file a scheduler or alert reads) and report.html.
Exit codes: 0 ok, 1 a stage failed, 3 finished with rejected, failed or drifted records,
4 configuration or credentials.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fc, err := a.config()
			if err != nil {
				return err
			}
			sum, err := a.runPipeline(cmd.Context(), fc, opts)
			if sum != nil {
				printSummary(a.stdout, sum)
			}
			if err != nil {
				return err
			}
			if sum.ExitCode == pipeline.ExitPartial {
				return partialError("run: finished with rejected, failed or drifted records (see %s)", pipeline.SummaryFile)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&opts.From, "from", "", "rerun from `STAGE` on (extract, transform, load, verify, report), even when up to date")
	cmd.Flags().StringVar(&opts.Until, "until", "", "stop after `STAGE`")
	return cmd
}

// runPipeline builds every stage up to opts.Until from the config and runs them with
// pipeline.RunAll under one lock. Stages after --until are not built, so that, say,
// "run --until transform" needs no B2B credentials.
func (a *app) runPipeline(ctx context.Context, fc *fileConfig, opts pipeline.RunOptions) (*pipeline.Summary, error) {
	order := pipeline.StageOrder()
	last := len(order) - 1
	if opts.Until != "" {
		if last = slices.Index(order, opts.Until); last < 0 {
			return nil, usageError("--until %q: not one of %s", opts.Until, strings.Join(order, ", "))
		}
	}
	// Every config is checked now, before anything runs. Stages that need credentials (load,
	// verify, and extract from the API) are built only if they run.
	extractPlan, err := a.extractPlan(fc, fc.Source, true)
	if err != nil {
		return nil, err
	}
	transformPlan, err := a.transformPlan(fc, nil)
	if err != nil {
		return nil, err
	}
	plans := map[string]stagePlan{
		pipeline.StageExtract:   extractPlan,
		pipeline.StageTransform: transformPlan,
		pipeline.StageLoad:      lazyPlan(pipeline.StageLoad, fc.Load, func() (stagePlan, error) { return a.loadPlan(fc) }),
		pipeline.StageVerify:    lazyPlan(pipeline.StageVerify, fc.Verify, func() (stagePlan, error) { return a.verifyPlan(fc) }),
		pipeline.StageReport:    a.reportPlan(fc),
	}
	var planned []pipeline.Planned
	for _, name := range order[:last+1] {
		p := plans[name]
		hash, err := pipeline.HashConfig(p.section)
		if err != nil {
			return nil, err
		}
		planned = append(planned, pipeline.Planned{Stage: p.stage, ConfigHash: hash})
	}
	env, lock, err := a.lockedEnv("run")
	if err != nil {
		return nil, err
	}
	defer lock.Release() //nolint:errcheck // the run's error wins
	return pipeline.RunAll(ctx, env, planned, opts)
}

// lazyPlan is a stage built only when it runs, so that a stage run skips needs none of what
// building it needs (credentials, a client). section is the config section it is built from.
func lazyPlan(name string, section any, build func() (stagePlan, error)) stagePlan {
	return stagePlan{stage: lazyStage{name: name, build: build}, section: section}
}

// lazyStage is a Stage that builds the real one when it runs.
type lazyStage struct {
	name  string
	build func() (stagePlan, error)
}

// Name is the stage's name.
func (s lazyStage) Name() string { return s.name }

// Run builds the stage and runs it.
func (s lazyStage) Run(ctx context.Context, env *pipeline.Env) (*pipeline.Result, error) {
	p, err := s.build()
	if err != nil {
		return nil, err
	}
	return p.stage.Run(ctx, env)
}

// printSummary writes a short table of what the run did, then the counts that show every user
// accounted for.
func printSummary(w io.Writer, sum *pipeline.Summary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "stage\taction\twhy\ttook\tcounts\n")
	for _, st := range sum.Stages {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", st.Name, st.Action, st.Why,
			(time.Duration(st.DurationMS) * time.Millisecond).String(), formatCounts(st.Counts))
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "run %s finished in %s with exit code %d\n", sum.RunID,
		(time.Duration(sum.DurationMS) * time.Millisecond).Round(time.Millisecond), sum.ExitCode)
	if sum.Error != "" {
		fmt.Fprintf(w, "error: %s\n", sum.Error)
	}
}

// formatCounts renders counts as "a=1 b=2", keys sorted, leaving out the per-reason breakdowns
// (keys with a dot) that summary.json carries in full.
func formatCounts(c map[string]int64) string {
	keys := make([]string, 0, len(c))
	for k := range c {
		if !strings.Contains(k, ".") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, c[k])
	}
	return strings.Join(parts, " ")
}

// printReconciliation shows that every user is accounted for: each user is eligible or rejected
// as a whole, and each (user, organization) membership of the eligible ones is a member, a
// duplicate or a rejected membership. It prints nothing before transform has run.
func printReconciliation(w io.Writer, counts map[string]map[string]int64) {
	t := counts[pipeline.StageTransform]
	if t == nil {
		return
	}
	users, userRejects := t[transform.CountUsers], t[transform.CountUserRejects]
	memberships := t[transform.CountMemberships]
	members, duplicates := t[transform.CountMembers], t[transform.CountDuplicates]
	membershipRejects := t[transform.CountMembershipRejects]
	check := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "DOES NOT ADD UP"
	}
	fmt.Fprintf(w, "\nusers        %6d = %d eligible + %d rejected as a whole  [%s]\n",
		users, users-userRejects, userRejects, check(userRejects <= users))
	fmt.Fprintf(w, "memberships  %6d = %d members + %d duplicates + %d rejected memberships  [%s]\n",
		memberships, members, duplicates, membershipRejects, check(memberships == members+duplicates+membershipRejects))
	if e := counts[pipeline.StageExtract]; e != nil && e["users"] != users {
		fmt.Fprintf(w, "extract wrote %d users but transform read %d  [DOES NOT ADD UP]\n", e["users"], users)
	}
	if l := counts[pipeline.StageLoad]; l != nil {
		fmt.Fprintf(w, "load         %s\n", formatCounts(l))
	}
	if v := counts[pipeline.StageVerify]; v != nil {
		fmt.Fprintf(w, "verify       %s\n", formatCounts(v))
	}
}
