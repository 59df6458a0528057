package load

import (
	"errors"
	"fmt"
	"time"
)

// Defaults of the load config.
const (
	// DefaultRate is Stytch's migration guidance: 65 requests per second for the whole run.
	DefaultRate = 65.0
	// DefaultMaxConcurrency bounds the automatically sized number of requests in flight.
	DefaultMaxConcurrency = 512
	// DefaultMinConcurrency is the floor of the automatically sized concurrency.
	DefaultMinConcurrency = 4
	// DefaultFlushInterval is how often outcomes are flushed to a ledger segment.
	DefaultFlushInterval = 2 * time.Second
	// DefaultFlushRows flushes a ledger segment early once this many outcomes are pending.
	DefaultFlushRows = 1000
	// DefaultRequestTimeout bounds one HTTP attempt.
	DefaultRequestTimeout = 30 * time.Second
	// DefaultMaxAttempts is how many times the client sends one request at most.
	DefaultMaxAttempts = 8
	// DefaultMemoryLimit is the soft Go memory limit the load command sets (unless GOMEMLIMIT is
	// set): reading Parquet churns through short-lived buffers, and without a limit the garbage
	// collector lets the heap grow to twice what is live (about 250 MB instead of 150 MB for a
	// million planned members).
	DefaultMemoryLimit = 160 << 20
	// DefaultResolveAttempts is how many times a member or organization write is tried again
	// after a failure the client gave up on and a lookup showed it was not applied.
	DefaultResolveAttempts = 3
)

// Config is the load section of migrate.yaml.
type Config struct {
	// Rate is the requests per second shared by every worker, retries included (0 = 65). The
	// client's limiter lowers it when the server answers 429.
	Rate float64 `yaml:"rate" json:"rate"`
	// Burst is the rate limiter's bucket size (0 = a tenth of the rate).
	Burst int `yaml:"burst" json:"burst,omitempty"`
	// Concurrency is the number of requests in flight (0 = sized from the rate and the observed
	// latency: ceil(rate × p50 × 1.5), between 4 and max_concurrency).
	Concurrency int `yaml:"concurrency" json:"concurrency"`
	// MaxConcurrency bounds the automatic sizing (0 = 512).
	MaxConcurrency int `yaml:"max_concurrency" json:"max_concurrency,omitempty"`
	// ReassignExternalIDs replaces another external id found on a member or organization with
	// ours instead of recording a conflict.
	ReassignExternalIDs bool `yaml:"reassign_external_ids" json:"reassign_external_ids,omitempty"`
	// FlushInterval is how often outcomes are flushed to the ledger (0 = 2s).
	FlushInterval time.Duration `yaml:"flush_interval" json:"flush_interval,omitempty"`
	// FlushRows flushes early once this many outcomes are pending (0 = 1000).
	FlushRows int `yaml:"flush_rows" json:"flush_rows,omitempty"`
	// RequestTimeout bounds one HTTP attempt (0 = 30s).
	RequestTimeout time.Duration `yaml:"request_timeout" json:"request_timeout,omitempty"`
	// MaxAttempts is how many times one request is sent at most, the first included (0 = 8).
	MaxAttempts int `yaml:"max_attempts" json:"max_attempts,omitempty"`
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.Burst == 0 {
		c.Burst = max(1, int(c.Rate/10))
	}
	if c.MaxConcurrency == 0 {
		c.MaxConcurrency = DefaultMaxConcurrency
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.FlushRows == 0 {
		c.FlushRows = DefaultFlushRows
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	return c
}

// Validate checks the config's values (after defaults).
func (c Config) Validate() error {
	var errs []error
	if c.Rate < 0 {
		errs = append(errs, fmt.Errorf("load.rate: must be positive, got %v", c.Rate))
	}
	if c.Burst < 0 {
		errs = append(errs, fmt.Errorf("load.burst: must not be negative, got %d", c.Burst))
	}
	if c.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("load.concurrency: must not be negative, got %d", c.Concurrency))
	}
	if c.MaxConcurrency < 0 {
		errs = append(errs, fmt.Errorf("load.max_concurrency: must not be negative, got %d", c.MaxConcurrency))
	}
	if c.FlushInterval < 0 {
		errs = append(errs, fmt.Errorf("load.flush_interval: must not be negative, got %s", c.FlushInterval))
	}
	if c.FlushRows < 0 {
		errs = append(errs, fmt.Errorf("load.flush_rows: must not be negative, got %d", c.FlushRows))
	}
	if c.RequestTimeout < 0 {
		errs = append(errs, fmt.Errorf("load.request_timeout: must not be negative, got %s", c.RequestTimeout))
	}
	if c.MaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("load.max_attempts: must not be negative, got %d", c.MaxAttempts))
	}
	return errors.Join(errs...)
}
