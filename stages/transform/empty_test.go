package transform

import (
	"testing"
)

func TestEmptyInput(t *testing.T) {
	out := runPlan(t, DefaultConfig(), writeUsers(t, nil))
	if len(out.members)+len(out.orgs)+len(out.rejects)+len(out.dups) != 0 || out.res.Partial || out.res.Counts[CountUsers] != 0 {
		t.Fatalf("empty input planned something: %+v", out.res)
	}
}
