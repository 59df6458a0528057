// Package pipeline runs the stages of a migration and records what they did.
//
// A migration lives in a run directory (see [RunDir]). Stages talk to each other only through
// files in it, and every file is committed atomically (see [CreateAtomic]): written under a
// temporary name in the same folder, fsynced and renamed, so a crash never leaves a half file
// under its final name.
//
// # Manifest
//
// manifest.json in the run directory (see [Manifest]) records, for every stage, its config hash,
// start and end, counts and the inputs and outputs it read and wrote (path, sha256, size and,
// for Parquet files, rows and schema name and version read from the file's key-value metadata).
// [RunStage] keeps it up to date; rerunning a stage marks every later stage that had succeeded
// as stale, and [Manifest.UpToDate] tells whether a stage can be skipped.
//
// # Locking
//
// One process at a time works in a run directory: [RunDir.Lock] takes an flock(2) on
// RUN_DIR/.lock and writes a JSON holder record into it; a second process gets a [*LockedError]
// naming the holder. The kernel drops the lock when its holder dies, so a lock left by a killed
// process is taken over.
//
// # Exit codes
//
// [ExitCode] maps an error to the process exit status from a small table ([ExitOK],
// [ExitFailed], [ExitUsage], [ExitPartial], [ExitConfig]); [WithExitCode] attaches a code to an
// error.
//
// # Progress
//
// Stages count their work through [Progress] reporters made by a [ProgressFactory]; rendering
// (a terminal bar, periodic log lines or nothing) is chosen by the command, not by the stage.
package pipeline
