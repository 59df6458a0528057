package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
)

func TestExitCode(t *testing.T) {
	base := errors.New("base")
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, pipeline.ExitOK},
		{"plain", base, pipeline.ExitFailed},
		{"usage", pipeline.WithExitCode(base, pipeline.ExitUsage), pipeline.ExitUsage},
		{"partial", pipeline.WithExitCode(base, pipeline.ExitPartial), pipeline.ExitPartial},
		{"config", pipeline.WithExitCode(base, pipeline.ExitConfig), pipeline.ExitConfig},
		{"wrapped code", fmt.Errorf("load: %w", pipeline.WithExitCode(base, pipeline.ExitConfig)), pipeline.ExitConfig},
		{"outermost wins", pipeline.WithExitCode(pipeline.WithExitCode(base, pipeline.ExitConfig), pipeline.ExitUsage), pipeline.ExitUsage},
		{"joined", errors.Join(base, pipeline.WithExitCode(base, pipeline.ExitPartial)), pipeline.ExitPartial},
		{"canceled", context.Canceled, pipeline.ExitFailed},
	}
	for _, tt := range tests {
		if got := pipeline.ExitCode(tt.err); got != tt.want {
			t.Errorf("%s: ExitCode = %d, want %d", tt.name, got, tt.want)
		}
	}
	if pipeline.WithExitCode(nil, pipeline.ExitUsage) != nil {
		t.Error("WithExitCode(nil) is not nil")
	}
	wrapped := pipeline.WithExitCode(&fs.PathError{Op: "open", Path: "/x", Err: fs.ErrNotExist}, pipeline.ExitConfig)
	var pe *fs.PathError
	if !errors.Is(wrapped, fs.ErrNotExist) || !errors.As(wrapped, &pe) || wrapped.Error() != "open /x: file does not exist" {
		t.Errorf("wrapping changed the error: %v", wrapped)
	}
}
