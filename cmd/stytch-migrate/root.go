package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/stytch-migrate/stytch-migrate/internal/buildinfo"
	"github.com/stytch-migrate/stytch-migrate/pipeline"
)

// commandName is the program's name in usage and error lines.
const commandName = "stytch-migrate"

// suggestDistance is the largest edit distance at which an unknown command gets a suggestion.
const suggestDistance = 2

// Log formats accepted by --log-format.
const (
	logFormatText = "text"
	logFormatJSON = "json"
)

// app is what every subcommand shares: the output streams, the environment, and the values of
// the persistent flags, read once in the root's PersistentPreRunE. Subcommands must not define
// their own PersistentPreRunE (cobra would skip the root's).
type app struct {
	stdout io.Writer
	stderr io.Writer
	// getenv reads the environment; tests pass a map lookup. Secrets come only from here.
	getenv func(string) string

	// Persistent flag values.
	configPath string
	runDirPath string
	logFormat  string
	logLevel   string

	// logger logs to stderr in the chosen format and level.
	logger *slog.Logger

	// cfg caches the config file, loaded on first use by config().
	cfgOnce sync.Once
	cfg     *fileConfig
	cfgErr  error
}

// newApp returns an app writing to stdout and stderr and reading the environment with getenv.
func newApp(stdout, stderr io.Writer, getenv func(string) string) *app {
	return &app{
		stdout: stdout, stderr: stderr, getenv: getenv,
		logFormat: logFormatText, logLevel: slog.LevelInfo.String(),
		logger: slog.New(slog.NewTextHandler(stderr, nil)),
	}
}

// newCmdRoot builds the command tree.
func newCmdRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   commandName,
		Short: "Move the users of a Stytch Consumer project into a Stytch B2B project",
		Long: commandName + ` moves every user of a Stytch Consumer project into a Stytch B2B
project through staged Parquet files in a run directory: extract, transform, load, verify,
report. Every staged file can be read with inspect or any Parquet reader.

Secrets come only from the environment: STYTCH_CONSUMER_PROJECT_ID, STYTCH_CONSUMER_SECRET,
STYTCH_B2B_PROJECT_ID, STYTCH_B2B_SECRET, and STYTCH_API_BASE_URL.

Exit codes: 0 ok, 1 failed, 2 usage, 3 finished with rejected or failed records,
4 config or credentials.`,
		Version:       buildinfo.Version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.ArbitraryArgs,

		SuggestionsMinimumDistance: suggestDistance,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(cmd, args[0])
			}
			return cmd.Help()
		},
		PersistentPreRunE: func(*cobra.Command, []string) error { return a.setup() },
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetVersionTemplate(commandName + " {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError("%v (see %s --help)", err, c.CommandPath())
	})

	f := root.PersistentFlags()
	f.StringVar(&a.configPath, "config", "", "config `FILE` (YAML, see migrate.yaml in the README)")
	f.StringVar(&a.runDirPath, "run-dir", "", "run `DIR`ectory holding the staged files and manifest")
	f.StringVar(&a.logFormat, "log-format", a.logFormat, "log format on stderr: text or json")
	f.StringVar(&a.logLevel, "log-level", a.logLevel, "log level: debug, info, warn or error")

	// The subcommands, one line each.
	root.AddCommand(
		newCmdInspect(a),
		newCmdExtract(a),
		newCmdTransform(a),
		newCmdLoad(a),
		newCmdRollback(a),
		newCmdEmulator(a),
		newCmdVerify(a),
		newCmdReport(a),
		newCmdRun(a),
		newCmdDemo(a),
	)
	return root
}

// setup checks the persistent flags and builds the logger.
func (a *app) setup() error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(a.logLevel)); err != nil {
		return usageError("--log-level %q: want debug, info, warn or error", a.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch a.logFormat {
	case logFormatText:
		a.logger = slog.New(slog.NewTextHandler(a.stderr, opts))
	case logFormatJSON:
		a.logger = slog.New(slog.NewJSONHandler(a.stderr, opts))
	default:
		return usageError("--log-format %q: want %s or %s", a.logFormat, logFormatText, logFormatJSON)
	}
	return nil
}

// config returns the config file named by --config, loaded once; with no --config it returns
// the empty config. Errors carry pipeline.ExitConfig.
func (a *app) config() (*fileConfig, error) {
	a.cfgOnce.Do(func() {
		if a.configPath == "" {
			a.cfg = &fileConfig{}
			return
		}
		a.cfg, a.cfgErr = readConfigFile(a.configPath)
	})
	return a.cfg, a.cfgErr
}

// runDir opens the run directory named by --run-dir; it is a usage error to leave it out.
func (a *app) runDir() (*pipeline.RunDir, error) {
	if a.runDirPath == "" {
		return nil, usageError("--run-dir is required")
	}
	return pipeline.OpenRunDir(a.runDirPath)
}

// progress returns the progress factory for stderr: a bar on a terminal, log lines otherwise.
func (a *app) progress() pipeline.ProgressFactory {
	f, ok := a.stderr.(*os.File)
	tty := ok && term.IsTerminal(int(f.Fd()))
	interval := pipeline.DefaultLogInterval
	if tty {
		interval = pipeline.DefaultBarInterval
	}
	return pipeline.NewProgressFactory(a.stderr, tty, a.logger, interval)
}

// stageEnv locks the run directory for command and returns the Env a stage runs in, with the
// run id from the manifest and the hash of the stage's config section. The caller releases the
// lock when done.
func (a *app) stageEnv(command string, section any) (*pipeline.Env, *pipeline.Lock, error) {
	hash, err := pipeline.HashConfig(section)
	if err != nil {
		return nil, nil, err
	}
	env, lock, err := a.lockedEnv(command)
	if err != nil {
		return nil, nil, err
	}
	env.ConfigHash = hash
	return env, lock, nil
}

// lockedEnv locks the run directory for command and returns an Env with the run id from the
// manifest and no config hash. The caller releases the lock when done.
func (a *app) lockedEnv(command string) (*pipeline.Env, *pipeline.Lock, error) {
	dir, err := a.runDir()
	if err != nil {
		return nil, nil, err
	}
	lock, err := dir.Lock(command)
	if err != nil {
		return nil, nil, err
	}
	if lock.Previous != nil {
		a.logger.Warn("took over the lock of a process that died", "holder", lock.Previous.String())
	}
	if len(lock.Removed) > 0 {
		a.logger.Info("removed temporary files of interrupted writes", "files", lock.Removed)
	}
	m, err := pipeline.LoadManifest(dir)
	if err != nil {
		_ = lock.Release()
		return nil, nil, err
	}
	// A new run directory gets its manifest now, so that the run id the stage writes into its
	// files is the one the manifest keeps.
	if _, err := os.Stat(dir.Path(pipeline.ManifestFile)); errors.Is(err, fs.ErrNotExist) {
		if err := m.Save(dir); err != nil {
			_ = lock.Release()
			return nil, nil, err
		}
	}
	return &pipeline.Env{
		Dir: dir, RunID: m.RunID, ToolVersion: buildinfo.Version(),
		Logger: a.logger, Progress: a.progress(),
	}, lock, nil
}

// usageError returns a formatted error that exits with pipeline.ExitUsage.
func usageError(format string, args ...any) error {
	return pipeline.WithExitCode(fmt.Errorf(format, args...), pipeline.ExitUsage)
}

// unknownCommand is the usage error for an unknown subcommand, with suggestions.
func unknownCommand(cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usageError("%s (see %s --help)", msg, cmd.CommandPath())
}

// exactArgs is cobra.ExactArgs with usage errors that exit with pipeline.ExitUsage.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError("%v (usage: %s)", err, cmd.UseLine())
		}
		return nil
	}
}
