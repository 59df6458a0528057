package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/stytch-migrate/stytch-migrate/stytch"
	"github.com/stytch-migrate/stytch-migrate/stytch/stytchtest"
)

// Defaults of the emulator command.
const (
	defaultEmulatorAddr = "127.0.0.1:8080"
	// emulatorShutdownTimeout bounds how long in-flight requests may finish after a signal.
	emulatorShutdownTimeout = 5 * time.Second
)

// Fault scopes accepted by --fault-scope.
const (
	faultScopeAll    = "all"
	faultScopeWrites = "writes"
	faultScopeReads  = "reads"
)

// emulatorFlags are the emulator command's flag values.
type emulatorFlags struct {
	addr          string
	users         string
	rate          int
	retryAfter    bool
	errorRate     float64
	ghostRate     float64
	dropRate      float64
	latency       time.Duration
	latencyJitter time.Duration
	faultScope    string
	seed          uint64
	totalsOff     bool

	consumerProjectID, consumerSecret string
	b2bProjectID, b2bSecret           string
}

// newCmdEmulator builds "emulator": serve the in-memory Stytch emulator until interrupted.
func newCmdEmulator(a *app) *cobra.Command {
	f := emulatorFlags{
		addr:              defaultEmulatorAddr,
		faultScope:        faultScopeAll,
		seed:              1,
		consumerProjectID: stytchtest.DefaultConsumerProjectID,
		consumerSecret:    stytchtest.DefaultConsumerSecret,
		b2bProjectID:      stytchtest.DefaultB2BProjectID,
		b2bSecret:         stytchtest.DefaultB2BSecret,
	}
	cmd := &cobra.Command{
		Use:   "emulator",
		Short: "Serve a local in-memory Stytch API to rehearse a migration",
		Long: `Serve an in-memory Stytch-compatible API (Consumer users; B2B organizations, members,
passwords migrate) on a loopback address until interrupted, and print the environment variables
that point this tool at it. Consumer users can be seeded from an export file (a JSON array as
stytch-node-export-users writes it, or JSON Lines). Faults can be injected to rehearse failures:
a fixed-window rate limit answered with 429, 500/503 errors, ghost writes (applied, then answered
500), dropped connections and latency, all from a seeded RNG.

The credentials are the emulator's own test values, not secrets.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return runEmulator(cmd.Context(), a, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", f.addr, "listen `ADDRESS` (host:port; loopback recommended)")
	fl.StringVar(&f.users, "users", "", "seed Consumer users from `FILE` (JSON array or JSON Lines)")
	fl.IntVar(&f.rate, "rate", 0, "rate limit per project in requests per second, fixed 1 s windows (0: none)")
	fl.BoolVar(&f.retryAfter, "retry-after", false, "send Retry-After on 429 answers")
	fl.Float64Var(&f.errorRate, "error-rate", 0, "share of requests answered 500/503 without being applied")
	fl.Float64Var(&f.ghostRate, "ghost-rate", 0, "share of writes applied, then answered 500")
	fl.Float64Var(&f.dropRate, "drop-rate", 0, "share of requests whose connection is closed without an answer")
	fl.DurationVar(&f.latency, "latency", 0, "added latency per request")
	fl.DurationVar(&f.latencyJitter, "latency-jitter", 0, "uniform ± jitter on the latency")
	fl.StringVar(&f.faultScope, "fault-scope", f.faultScope, "routes faults apply to: all, writes or reads")
	fl.Uint64Var(&f.seed, "seed", f.seed, "seed of the fault and id RNG")
	fl.BoolVar(&f.totalsOff, "search-totals-disabled", false, "answer results_metadata.total = -1 in searches")
	fl.StringVar(&f.consumerProjectID, "consumer-project-id", f.consumerProjectID, "Consumer project id")
	fl.StringVar(&f.consumerSecret, "consumer-secret", f.consumerSecret, "Consumer project secret")
	fl.StringVar(&f.b2bProjectID, "b2b-project-id", f.b2bProjectID, "B2B project id")
	fl.StringVar(&f.b2bSecret, "b2b-secret", f.b2bSecret, "B2B project secret")
	return cmd
}

// options turns the flags into emulator options, checking them.
func (f emulatorFlags) options() ([]stytchtest.Option, error) {
	for name, v := range map[string]float64{"--error-rate": f.errorRate, "--ghost-rate": f.ghostRate, "--drop-rate": f.dropRate} {
		if v < 0 || v > 1 {
			return nil, usageError("%s %v: want a share between 0 and 1", name, v)
		}
	}
	if f.errorRate+f.ghostRate+f.dropRate > 1 {
		return nil, usageError("--error-rate, --ghost-rate and --drop-rate add up to more than 1")
	}
	if f.rate < 0 || f.latency < 0 || f.latencyJitter < 0 {
		return nil, usageError("--rate, --latency and --latency-jitter must not be negative")
	}
	if f.consumerProjectID == "" || f.consumerSecret == "" || f.b2bProjectID == "" || f.b2bSecret == "" {
		return nil, usageError("project ids and secrets must not be empty")
	}
	faults := stytchtest.Faults{ErrorRate: f.errorRate, GhostRate: f.ghostRate, DropRate: f.dropRate,
		Latency: f.latency, LatencyJitter: f.latencyJitter}
	opts := []stytchtest.Option{
		stytchtest.WithSeed(f.seed),
		stytchtest.WithRateLimit(f.rate),
		stytchtest.WithRetryAfter(f.retryAfter),
		stytchtest.WithConsumerProject(f.consumerProjectID, f.consumerSecret),
		stytchtest.WithB2BProject(f.b2bProjectID, f.b2bSecret),
	}
	switch f.faultScope {
	case faultScopeAll:
		opts = append(opts, stytchtest.WithFaults(faults))
	case faultScopeWrites:
		opts = append(opts, stytchtest.WithWriteFaults(faults))
	case faultScopeReads:
		opts = append(opts, stytchtest.WithReadFaults(faults))
	default:
		return nil, usageError("--fault-scope %q: want %s, %s or %s", f.faultScope, faultScopeAll, faultScopeWrites, faultScopeReads)
	}
	if f.totalsOff {
		opts = append(opts, stytchtest.WithSearchTotalsDisabled())
	}
	return opts, nil
}

// runEmulator serves the emulator until ctx is done (SIGINT or SIGTERM in main).
func runEmulator(ctx context.Context, a *app, f emulatorFlags) error {
	opts, err := f.options()
	if err != nil {
		return err
	}
	srv := stytchtest.NewServer(opts...)
	if f.users != "" {
		if err := srv.LoadUsersFile(f.users); err != nil {
			return err
		}
	}
	if host, _, err := net.SplitHostPort(f.addr); err == nil && !stytch.IsLoopbackHost(host) {
		a.logger.Warn("the emulator listens beyond loopback; the tool talks plain http only to loopback hosts", "addr", f.addr)
	}
	if err := srv.Start(f.addr); err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	fmt.Fprintf(a.stdout, "# Stytch emulator on %s with %d Consumer users; stop with Ctrl-C.\n", srv.URL, srv.UserCount())
	fmt.Fprintf(a.stdout, "# Point %s at it (these are the emulator's test credentials):\n", commandName)
	for _, kv := range [][2]string{
		{stytch.EnvAPIBaseURL, srv.URL},
		{stytch.EnvConsumerProjectID, f.consumerProjectID},
		{stytch.EnvConsumerSecret, f.consumerSecret},
		{stytch.EnvB2BProjectID, f.b2bProjectID},
		{stytch.EnvB2BSecret, f.b2bSecret},
	} {
		fmt.Fprintf(a.stdout, "export %s=%s\n", kv[0], kv[1])
	}
	a.logger.Info("emulator started", "url", srv.URL, "rate", f.rate, "error_rate", f.errorRate,
		"ghost_rate", f.ghostRate, "drop_rate", f.dropRate, "latency", f.latency, "fault_scope", f.faultScope, "seed", f.seed)

	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), emulatorShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		srv.Close()
	}
	st := srv.Stats()
	snap := srv.Snapshot()
	a.logger.Info("emulator stopped", "requests", st.TotalRequests, "writes_applied", st.WritesApplied,
		"rate_limited", st.RateLimited, "faults", st.Faults(), "organizations", len(snap.Organizations),
		"members", snap.MemberCount())
	return nil
}
