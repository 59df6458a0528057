package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/stytch-migrate/stytch-migrate/internal/parquettest"
	"github.com/stytch-migrate/stytch-migrate/pipeline"
)

// runCLI runs the command line in-process and returns its exit code, stdout and stderr.
func runCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr, func(k string) string { return env[k] })
	return code, stdout.String(), stderr.String()
}

func TestRootUsage(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"version", []string{"--version"}, pipeline.ExitOK, "stytch-migrate dev\n", ""},
		{"help", []string{"--help"}, pipeline.ExitOK, "Exit codes: 0 ok, 1 failed", ""},
		{"no args", nil, pipeline.ExitOK, "Available Commands:", ""},
		{"unknown command", []string{"inspct"}, pipeline.ExitUsage, "",
			`stytch-migrate: unknown command "inspct" for "stytch-migrate"; did you mean inspect? (see stytch-migrate --help)` + "\n"},
		{"unknown flag", []string{"--bogus"}, pipeline.ExitUsage, "",
			"stytch-migrate: unknown flag: --bogus (see stytch-migrate --help)\n"},
		{"bad log format", []string{"--log-format", "xml", "inspect", "x"}, pipeline.ExitUsage, "",
			`stytch-migrate: --log-format "xml": want text or json` + "\n"},
		{"bad log level", []string{"--log-level", "loud", "inspect", "x"}, pipeline.ExitUsage, "",
			`stytch-migrate: --log-level "loud": want debug, info, warn or error` + "\n"},
		{"inspect without file", []string{"inspect"}, pipeline.ExitUsage, "",
			"stytch-migrate: accepts 1 arg(s), received 0 (usage: stytch-migrate inspect FILE.parquet [flags])\n"},
		{"inspect bad format", []string{"inspect", "--format", "csv", "x"}, pipeline.ExitUsage, "",
			`stytch-migrate: --format: unknown format "csv" (want table or json)` + "\n"},
		{"inspect bad limit", []string{"inspect", "--limit", "-1", "x"}, pipeline.ExitUsage, "",
			"stytch-migrate: --limit -1: must be 0 or more\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, nil, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if !strings.Contains(stdout, tt.stdout) {
				t.Errorf("stdout %q lacks %q", stdout, tt.stdout)
			}
			if stderr != tt.stderr {
				t.Errorf("stderr %q, want %q", stderr, tt.stderr)
			}
		})
	}
}

func TestInspect(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	path := filepath.Join(dir, "users.parquet")
	parquettest.Write(t, path, mem, parquettest.Options{Rows: 30, KeyValue: map[string]string{
		pipeline.MetaSchema: "users", pipeline.MetaSchemaVersion: "1",
	}})

	code, stdout, stderr := runCLI(t, nil, "inspect", path)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	for _, want := range []string{"rows        30\n", "stytch_migrate.schema", "first 10 of 30 rows\n", "user-9 ", "Zoë 1"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}

	code, stdout, _ = runCLI(t, nil, "inspect", "--format", "json", "-n", "3", path)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != 0 || len(lines) != 4 {
		t.Fatalf("json: exit %d, %d lines", code, len(lines))
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Errorf("not JSON: %s", l)
		}
	}

	good, _ := os.ReadFile(path)
	for name, content := range map[string][]byte{
		"truncated.parquet": good[:len(good)-20],
		"users.csv":         []byte("user_id,email\n1,a@example.com\n"),
	} {
		bad := filepath.Join(dir, name)
		if err := os.WriteFile(bad, content, 0o644); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := runCLI(t, nil, "inspect", bad)
		prefix := "stytch-migrate: inspect " + bad + ": not a Parquet file ("
		if code != pipeline.ExitFailed || stdout != "" || !strings.HasPrefix(stderr, prefix) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and one line starting %q", name, code, stdout, stderr, prefix)
		}
	}
}
