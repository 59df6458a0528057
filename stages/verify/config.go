package verify

import (
	"errors"
	"fmt"
	"time"
)

// Defaults of the verify config.
const (
	// DefaultSearchRatePerMinute is Stytch's documented limit of Search Members (100/min).
	DefaultSearchRatePerMinute = 100.0
	// DefaultPageSize is the members per Search Members page; Stytch's maximum.
	DefaultPageSize = 1000
	// MaxPageSize is the largest page Stytch accepts.
	MaxPageSize = 1000
	// DefaultOrgsPerSearch is how many organization ids one Search Members call filters on.
	DefaultOrgsPerSearch = 100
	// DefaultWindowMembers bounds the planned members held in memory at once (see doc.go).
	DefaultWindowMembers = 50_000
	// DefaultRate is the rate of the other requests (Get Organization), per second.
	DefaultRate = 65.0
	// DefaultRequestTimeout bounds one HTTP attempt.
	DefaultRequestTimeout = 30 * time.Second
	// DefaultMaxAttempts is how many times one request is sent at most.
	DefaultMaxAttempts = 8
)

// Config is the verify section of migrate.yaml.
type Config struct {
	// SearchRatePerMinute caps Search Members calls (0 = 100, Stytch's limit). Retries count.
	SearchRatePerMinute float64 `yaml:"search_rate_per_minute" json:"search_rate_per_minute,omitempty"`
	// PageSize is the members asked per Search Members page (0 = 1000, at most 1000).
	PageSize int `yaml:"page_size" json:"page_size,omitempty"`
	// OrgsPerSearch is how many organization ids one Search Members call filters on (0 = 100).
	OrgsPerSearch int `yaml:"orgs_per_search" json:"orgs_per_search,omitempty"`
	// WindowMembers bounds the planned members compared at once (0 = 50,000); an organization
	// larger than it is compared alone.
	WindowMembers int `yaml:"window_members" json:"window_members,omitempty"`
	// Rate caps the other requests (Get Organization), per second (0 = 65).
	Rate float64 `yaml:"rate" json:"rate,omitempty"`
	// RequestTimeout bounds one HTTP attempt (0 = 30s).
	RequestTimeout time.Duration `yaml:"request_timeout" json:"request_timeout,omitempty"`
	// MaxAttempts is how many times one request is sent at most (0 = 8).
	MaxAttempts int `yaml:"max_attempts" json:"max_attempts,omitempty"`
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.SearchRatePerMinute == 0 {
		c.SearchRatePerMinute = DefaultSearchRatePerMinute
	}
	if c.PageSize == 0 {
		c.PageSize = DefaultPageSize
	}
	if c.OrgsPerSearch == 0 {
		c.OrgsPerSearch = DefaultOrgsPerSearch
	}
	if c.WindowMembers == 0 {
		c.WindowMembers = DefaultWindowMembers
	}
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	return c
}

// Validate reports every problem of a config with defaults applied, naming the yaml field.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("verify."+format, args...)) }
	if c.SearchRatePerMinute < 0 {
		bad("search_rate_per_minute %v: want a positive number", c.SearchRatePerMinute)
	}
	if c.PageSize < 1 || c.PageSize > MaxPageSize {
		bad("page_size %d: want 1-%d", c.PageSize, MaxPageSize)
	}
	if c.OrgsPerSearch < 1 {
		bad("orgs_per_search %d: want at least 1", c.OrgsPerSearch)
	}
	if c.WindowMembers < 1 {
		bad("window_members %d: want at least 1", c.WindowMembers)
	}
	if c.Rate < 0 {
		bad("rate %v: want a positive number", c.Rate)
	}
	if c.RequestTimeout < 0 {
		bad("request_timeout %v: want a positive duration", c.RequestTimeout)
	}
	if c.MaxAttempts < 0 {
		bad("max_attempts %d: want at least 1", c.MaxAttempts)
	}
	return errors.Join(errs...)
}
