package pipeline_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"testing"
)

// sha256File returns the hex sha256 and size of the file at path.
func sha256File(t *testing.T, path string) (string, int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), len(data)
}
