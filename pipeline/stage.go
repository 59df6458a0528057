package pipeline

import (
	"context"
	"log/slog"
	"slices"
)

// Stage names, in the order a migration runs them.
const (
	StageExtract   = "extract"
	StageTransform = "transform"
	StageLoad      = "load"
	StageVerify    = "verify"
	StageReport    = "report"
)

// StageOrder returns the stage names in run order. The caller owns the returned slice.
func StageOrder() []string {
	return []string{StageExtract, StageTransform, StageLoad, StageVerify, StageReport}
}

// stageIndex returns name's position in StageOrder, or -1 for a stage not in it.
func stageIndex(name string) int { return slices.Index(StageOrder(), name) }

// Stage is one step of a migration: a function of its config and input files to its output
// files. Stages never call each other; [RunStage] runs them and records what they did.
type Stage interface {
	// Name returns the stage's name, one of the Stage constants.
	Name() string
	// Run does the stage's work in env.Dir and reports what it read and wrote. It commits every
	// output atomically (see [CreateAtomic]) and returns an error, naming the file, row and
	// field where it can, if it could not finish. A run that finished but rejected or failed
	// some records returns a Result with Partial set and a nil error.
	Run(ctx context.Context, env *Env) (*Result, error)
}

// Env is what a stage gets from the command that runs it.
type Env struct {
	// Dir is the run directory; the command holds its lock.
	Dir *RunDir
	// RunID identifies the run; stages write it into every staged file's metadata.
	// RunStage fills it from the manifest when empty.
	RunID string
	// ToolVersion is the stytch-migrate version, written into every staged file's metadata.
	ToolVersion string
	// ConfigHash is the hash of this stage's config section (see [HashConfig]).
	ConfigHash string
	// Logger receives the stage's log records. RunStage uses a discarding logger when nil.
	Logger *slog.Logger
	// Progress makes progress reporters. RunStage uses [NoProgress] when nil.
	Progress ProgressFactory
}

// Result is what a stage reports about a finished run.
type Result struct {
	// Inputs are the run-directory-relative paths the stage read (absolute for files outside
	// the run directory, such as a source export).
	Inputs []string
	// Outputs are the run-directory-relative paths the stage wrote and committed.
	Outputs []string
	// Counts are the stage's totals, such as "users": 1000 or "rejects": 12.
	Counts map[string]int64
	// Details are stage-specific facts for the manifest, such as the filters extract used.
	// They must encode as JSON.
	Details map[string]any
	// Partial is true when the stage finished but rejected or failed some records; the
	// command then exits with ExitPartial.
	Partial bool
	// InputSHA256 holds the hex sha256 of inputs the stage hashed while reading them whole, by
	// their path as in Inputs, so that recording them does not read them again. Inputs not in
	// it are hashed when recorded.
	InputSHA256 map[string]string
}
