// Command stytch-migrate moves every user of a Stytch Consumer project into a Stytch B2B
// project, through staged Parquet files in a run directory.
//
// This package only wires flags, the config file and the environment to the packages that do
// the work (pipeline, stages/..., internal/inspect). Each subcommand is built by a
// newCmdX(a *app) constructor and listed once in root.go.
//
// Exit codes: 0 ok, 1 failed, 2 usage, 3 finished with rejected or failed records,
// 4 config or credentials (see pipeline.ExitCode).
package main
