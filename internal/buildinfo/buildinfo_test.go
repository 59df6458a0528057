package buildinfo

import "testing"

func TestVersion(t *testing.T) {
	if got := Version(); got != defaultVersion {
		t.Errorf("Version() = %q without a linked version, want %q", got, defaultVersion)
	}
	version = "v1.2.3"
	defer func() { version = "" }()
	if got := Version(); got != "v1.2.3" {
		t.Errorf("Version() = %q, want the linked v1.2.3", got)
	}
}
