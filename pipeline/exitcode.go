package pipeline

import "errors"

// Exit codes of the stytch-migrate command. The table is part of the tool's interface: scripts
// depend on it, so codes are never renumbered.
const (
	// ExitOK means everything finished and nothing was rejected.
	ExitOK = 0
	// ExitFailed means the command failed; the error says why.
	ExitFailed = 1
	// ExitUsage means the command line was wrong (unknown command or flag, bad argument).
	ExitUsage = 2
	// ExitPartial means the command finished, but some records were rejected or failed; the
	// staged reject and result files list them.
	ExitPartial = 3
	// ExitConfig means the configuration file or the credentials are missing or invalid.
	ExitConfig = 4
)

// exitError attaches an exit code to an error.
type exitError struct {
	err  error
	code int
}

// Error returns the wrapped error's text unchanged.
func (e *exitError) Error() string { return e.err.Error() }

// Unwrap returns the wrapped error so that errors.Is and errors.As see through the code.
func (e *exitError) Unwrap() error { return e.err }

// WithExitCode returns err carrying the exit code code. The result has the same text as err and
// keeps errors.Is and errors.As working on it. WithExitCode(nil, code) is nil.
func WithExitCode(err error, code int) error {
	if err == nil {
		return nil
	}
	return &exitError{err: err, code: code}
}

// ExitCode returns the process exit code for err: ExitOK for nil, the outermost code attached
// with WithExitCode, and ExitFailed for any other error.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	if e, ok := errors.AsType[*exitError](err); ok {
		return e.code
	}
	return ExitFailed
}
