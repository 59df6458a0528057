package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/stytch-migrate/stytch-migrate/pipeline"
	"github.com/stytch-migrate/stytch-migrate/stages/extract"
	"github.com/stytch-migrate/stytch-migrate/stages/load"
	"github.com/stytch-migrate/stytch-migrate/stages/report"
	"github.com/stytch-migrate/stytch-migrate/stages/transform"
	"github.com/stytch-migrate/stytch-migrate/stages/verify"
)

// fileConfig is the config file (migrate.yaml). It is decoded strictly: an unknown key is an
// error naming the key and its line.
//
// Each section is typed here only until its stage package exists: the stage's owner replaces
// the section's type with the stage's own config struct (sourceConfig with extract.Config,
// organizationsConfig and membersConfig with transform's, loadConfig with load.Config), keeping
// the yaml keys, and deletes the placeholder. Stage config structs carry yaml and json tags;
// the json form is what pipeline.HashConfig hashes for staleness.
type fileConfig struct {
	Source        extract.Config                `yaml:"source" json:"source"`
	Organizations transform.OrganizationsConfig `yaml:"organizations" json:"organizations"`
	Members       transform.MembersConfig       `yaml:"members" json:"members"`
	Passwords     transform.PasswordsConfig     `yaml:"passwords" json:"passwords"`
	Transform     transform.TuningConfig        `yaml:"transform" json:"transform"`
	Load          load.Config                   `yaml:"load" json:"load"`
	Verify        verify.Config                 `yaml:"verify" json:"verify"`
	Report        report.Config                 `yaml:"report" json:"report"`

	// dir is the folder of the config file; relative paths in it are relative to dir.
	dir string
}

// resolve returns path relative to the config file's folder, or path itself when absolute or
// empty.
func (c *fileConfig) resolve(path string) string {
	if path == "" || filepath.IsAbs(path) || c.dir == "" {
		return path
	}
	return filepath.Join(c.dir, path)
}

// yaml.v3 error lines: "line 3: field bogus not found in type main.sourceConfig" and
// "yaml: line 3: mapping values are not allowed in this context".
var (
	yamlUnknownField = regexp.MustCompile(`^line (\d+): field (.+) not found in type \S+$`)
	yamlLine         = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
)

// readConfigFile reads the config file at path strictly. Every error names the file and, where
// yaml.v3 gives one, the line, and carries pipeline.ExitConfig.
func readConfigFile(path string) (*fileConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, pipeline.WithExitCode(fmt.Errorf("config: %w", err), pipeline.ExitConfig)
	}
	cfg := &fileConfig{dir: filepath.Dir(path)}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, configError(path, &doc, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, configError(path, &doc, err)
	}
	return cfg, nil
}

// configError rewrites a yaml.v3 error as "FILE:LINE: message", one line, with unknown keys
// named by their full path ("source.bogus").
func configError(path string, doc *yaml.Node, err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		if g := yamlUnknownField.FindStringSubmatch(m); g != nil {
			key := g[2]
			if full := keyPath(doc, g[1], key); full != "" {
				key = full
			}
			out = append(out, fmt.Sprintf("%s:%s: unknown key %q", path, g[1], key))
			continue
		}
		if g := yamlLine.FindStringSubmatch(m); g != nil {
			out = append(out, fmt.Sprintf("%s:%s: %s", path, g[1], g[2]))
			continue
		}
		out = append(out, fmt.Sprintf("%s: %s", path, strings.TrimPrefix(m, "yaml: ")))
	}
	return pipeline.WithExitCode(fmt.Errorf("config %s", strings.Join(out, "; ")), pipeline.ExitConfig)
}

// keyPath finds the mapping key named key on line (decimal) in doc and returns its dotted path
// from the document root, or "".
func keyPath(doc *yaml.Node, line, key string) string {
	var walk func(n *yaml.Node, prefix string) string
	walk = func(n *yaml.Node, prefix string) string {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				if p := walk(c, prefix); p != "" {
					return p
				}
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if prefix != "" {
					p = prefix + "." + k.Value
				}
				if k.Value == key && fmt.Sprint(k.Line) == line {
					return p
				}
				if found := walk(v, p); found != "" {
					return found
				}
			}
		}
		return ""
	}
	return walk(doc, "")
}

// Environment variables holding credentials and the API address.
const (
	envConsumerProjectID = "STYTCH_CONSUMER_PROJECT_ID"
	envConsumerSecret    = "STYTCH_CONSUMER_SECRET"
	envB2BProjectID      = "STYTCH_B2B_PROJECT_ID"
	envB2BSecret         = "STYTCH_B2B_SECRET"
	envAPIBaseURL        = "STYTCH_API_BASE_URL"
)

// credentials are the Stytch project ids and secrets, read only from the environment. Their
// String form hides the secrets, so logging one by mistake leaks nothing.
type credentials struct {
	ConsumerProjectID string
	ConsumerSecret    string
	B2BProjectID      string
	B2BSecret         string
	APIBaseURL        string
}

// credentialsFromEnv reads the credentials with getenv.
func credentialsFromEnv(getenv func(string) string) credentials {
	return credentials{
		ConsumerProjectID: getenv(envConsumerProjectID),
		ConsumerSecret:    getenv(envConsumerSecret),
		B2BProjectID:      getenv(envB2BProjectID),
		B2BSecret:         getenv(envB2BSecret),
		APIBaseURL:        getenv(envAPIBaseURL),
	}
}

// String describes the credentials without their secrets.
func (c credentials) String() string {
	return fmt.Sprintf("consumer project %q (secret %s), b2b project %q (secret %s), api %q",
		c.ConsumerProjectID, redacted(c.ConsumerSecret), c.B2BProjectID, redacted(c.B2BSecret), c.APIBaseURL)
}

// GoString is String, so %#v hides the secrets too.
func (c credentials) GoString() string { return c.String() }

// requireConsumer returns an ExitConfig error naming the missing Consumer variables, if any.
func (c credentials) requireConsumer() error {
	return requireEnv(map[string]string{envConsumerProjectID: c.ConsumerProjectID, envConsumerSecret: c.ConsumerSecret})
}

// requireB2B returns an ExitConfig error naming the missing B2B variables, if any.
func (c credentials) requireB2B() error {
	return requireEnv(map[string]string{envB2BProjectID: c.B2BProjectID, envB2BSecret: c.B2BSecret})
}

// requireEnv names the variables in vars that are empty, in a sorted list.
func requireEnv(vars map[string]string) error {
	var missing []string
	for name, v := range vars {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	return pipeline.WithExitCode(fmt.Errorf("missing environment variable %s", strings.Join(missing, ", ")), pipeline.ExitConfig)
}

// redacted says whether a secret is set without showing it.
func redacted(s string) string {
	if s == "" {
		return "unset"
	}
	return "set"
}
