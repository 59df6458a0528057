package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
)

// designExample is the migrate.yaml example of DESIGN.md.
const designExample = `source:
  type: stytch_api            # stytch_api | export_json | export_csv | jsonl
  path: ./users.csv           # file sources only
  # since: 2026-01-01T00:00:00Z   (stytch_api: incremental)
organizations:
  strategy: metadata          # metadata | email_domain | mapping | single
  metadata_field: trusted_metadata.org_ids
  file: ./orgs.csv            # org_key,name,slug,allowed_domains (optional)
  # mapping_file: ./user_orgs.csv   (strategy mapping: user_id or email -> org_key)
  # personal_domains: [gmail.com, outlook.com]  (strategy email_domain)
members:
  external_id: default        # default (Consumer external_id, else user_id) | trusted_metadata.<path>
  oversized_metadata: reject  # reject | drop_untrusted
  mfa_phone_from_verified_phone: true
passwords:
  hashes_file: ./hashes.csv   # optional
load:
  rate: 65                    # requests per second, shared by all workers
  concurrency: 0              # 0 = sized from rate and observed latency
`

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "migrate.yaml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadConfigFile(t *testing.T) {
	path := writeConfig(t, designExample)
	cfg, err := readConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Source.Type != "stytch_api" || cfg.Organizations.MetadataField != "trusted_metadata.org_ids" ||
		cfg.Members.MFAPhoneFromVerifiedPhone == nil || !*cfg.Members.MFAPhoneFromVerifiedPhone ||
		cfg.Load.Rate != 65 || cfg.Passwords.HashesFile != "./hashes.csv" {
		t.Errorf("config %+v", cfg)
	}
	if got, want := cfg.resolve(cfg.Source.Path), filepath.Join(filepath.Dir(path), "users.csv"); got != want {
		t.Errorf("resolve = %s, want %s", got, want)
	}
	if empty, err := readConfigFile(writeConfig(t, "")); err != nil || empty.Source.Type != "" {
		t.Errorf("empty file: %+v, %v", empty, err)
	}
}

func TestReadConfigFileErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    string
	}{
		{"unknown top-level key", "source:\n  type: jsonl\nsourse:\n  type: x\n", `:3: unknown key "sourse"`},
		{"unknown nested key", "source:\n  type: jsonl\n  paht: ./x\n", `:3: unknown key "source.paht"`},
		{"two unknown keys", "load:\n  rate: 1\n  no_such_key: 2\nmembers:\n  no_such_key_either: x\n",
			`:3: unknown key "load.no_such_key"; `},
		{"wrong type", "load:\n  rate: fast\n", ":2: cannot unmarshal !!str `fast` into float64"},
		{"bad syntax", "load:\n  rate: 1\n  concurrency: 2: 3\n", ":3: mapping values are not allowed in this context"},
		{"tab indent", "source:\n\ttype: jsonl\n", ":2: found character that cannot start any token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.content)
			_, err := readConfigFile(path)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "config "+path+":") || !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q, want one line with %q", msg, tt.want)
			}
			if pipeline.ExitCode(err) != pipeline.ExitConfig {
				t.Errorf("exit code %d, want %d", pipeline.ExitCode(err), pipeline.ExitConfig)
			}
		})
	}
	_, err := readConfigFile(filepath.Join(t.TempDir(), "missing.yaml"))
	if err == nil || pipeline.ExitCode(err) != pipeline.ExitConfig || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestAppConfig(t *testing.T) {
	a := newApp(nil, nil, os.Getenv)
	if cfg, err := a.config(); err != nil || cfg == nil {
		t.Errorf("no --config: %v, %v", cfg, err)
	}
	a = newApp(nil, nil, os.Getenv)
	a.configPath = writeConfig(t, "bogus: 1\n")
	if _, err := a.config(); pipeline.ExitCode(err) != pipeline.ExitConfig {
		t.Errorf("bad --config: %v", err)
	}
}

func TestCredentials(t *testing.T) {
	env := map[string]string{envConsumerProjectID: "project-test-1", envConsumerSecret: "secret-test-XYZ"}
	c := credentialsFromEnv(func(k string) string { return env[k] })
	if err := c.requireConsumer(); err != nil {
		t.Errorf("consumer: %v", err)
	}
	err := c.requireB2B()
	if err == nil || err.Error() != "missing environment variable STYTCH_B2B_PROJECT_ID, STYTCH_B2B_SECRET" ||
		pipeline.ExitCode(err) != pipeline.ExitConfig {
		t.Errorf("b2b: %v", err)
	}
	for _, s := range []string{c.String(), c.GoString()} {
		if strings.Contains(s, "secret-test-XYZ") || !strings.Contains(s, "project-test-1") {
			t.Errorf("String leaks or hides the wrong thing: %s", s)
		}
	}
}

func TestStageEnv(t *testing.T) {
	a := newApp(nil, nil, os.Getenv)
	if _, _, err := a.stageEnv("extract", nil); pipeline.ExitCode(err) != pipeline.ExitUsage {
		t.Errorf("no --run-dir: %v", err)
	}
	a.runDirPath = t.TempDir()
	env, lock, err := a.stageEnv("extract", map[string]string{"type": "jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	want, _ := pipeline.HashConfig(map[string]string{"type": "jsonl"})
	if env.RunID == "" || env.ConfigHash != want || env.ToolVersion == "" || env.Logger == nil || env.Progress == nil {
		t.Errorf("env %+v", env)
	}
	b := newApp(nil, nil, os.Getenv)
	b.runDirPath = a.runDirPath
	_, _, err = b.stageEnv("load", nil)
	var locked *pipeline.LockedError
	if !errors.As(err, &locked) || !strings.Contains(err.Error(), `running "extract"`) {
		t.Errorf("second holder: %v", err)
	}
}
