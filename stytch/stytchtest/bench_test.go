package stytchtest_test

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stytch-migrate/stytch-migrate/stytch"
	"github.com/stytch-migrate/stytch-migrate/stytch/stytchtest"
)

const (
	adaptiveServerRate = 50
	adaptiveClientRate = 200
	adaptiveDuration   = 10 * time.Second
	adaptiveWorkers    = 16
)

// runAdaptive drives a client configured at 200 r/s against an emulator limiting at 50 r/s for
// ten seconds and reports throughput (successful calls per second) and the share of requests
// answered 429.
func runAdaptive(b *testing.B, retryAfter bool) {
	for b.Loop() {
		srv := stytchtest.NewServer(stytchtest.WithRateLimit(adaptiveServerRate), stytchtest.WithRetryAfter(retryAfter))
		if err := srv.Start(""); err != nil {
			b.Fatal(err)
		}
		c, err := stytch.NewB2BClient(srv.B2BConfig(), stytch.WithRateLimit(adaptiveClientRate, adaptiveClientRate/10))
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		if _, err := c.Organizations.Create(ctx, stytch.CreateOrganizationParams{OrganizationName: "Bench", OrganizationSlug: "bench"}); err != nil {
			b.Fatal(err)
		}
		// Start on a fresh server window so the setup call does not skew the first second.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
		before := srv.Stats()
		ctx, cancel := context.WithTimeout(ctx, adaptiveDuration)
		var ok atomic.Int64
		var wg sync.WaitGroup
		began := time.Now()
		for range adaptiveWorkers {
			wg.Go(func() {
				for ctx.Err() == nil {
					if _, err := c.Organizations.Get(ctx, "bench"); err == nil {
						ok.Add(1)
					}
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(began)
		cancel()
		after := srv.Stats()
		srv.Close()

		requests := after.TotalRequests - before.TotalRequests
		limited := after.RateLimited - before.RateLimited
		rps := float64(ok.Load()) / elapsed.Seconds()
		pct := 100 * float64(limited) / math.Max(1, float64(requests))
		b.ReportMetric(rps, "req/s")
		b.ReportMetric(pct, "pct_429")
		b.ReportMetric(c.Limiter().Rate(), "final_rate")
		if rps < 0.9*adaptiveServerRate || pct >= 5 {
			b.Errorf("throughput %.1f r/s (want ≥ %.1f), %.2f%% 429 (want < 5%%)", rps, 0.9*adaptiveServerRate, pct)
		}
	}
}

// BenchmarkAdaptiveLimit is the target: without Retry-After (Stytch is not known to send
// one) the limiter must learn the server's limit from 429s alone.
func BenchmarkAdaptiveLimit(b *testing.B) { runAdaptive(b, false) }

// BenchmarkAdaptiveLimitRetryAfter is the same with Retry-After on every 429.
func BenchmarkAdaptiveLimitRetryAfter(b *testing.B) { runAdaptive(b, true) }

// BenchmarkEmulatorThroughput measures simple requests (Get Organization by slug) per second the
// emulator serves on loopback to several concurrent keep-alive clients going through the full
// client stack (without a rate limit).
func BenchmarkEmulatorThroughput(b *testing.B) {
	srv := stytchtest.NewServer()
	if err := srv.Start(""); err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	c, err := stytch.NewB2BClient(srv.B2BConfig(), stytch.WithRateLimit(math.Inf(1), 0))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Organizations.Create(ctx, stytch.CreateOrganizationParams{OrganizationName: "Bench", OrganizationSlug: "bench"}); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(4)
	b.ResetTimer()
	began := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Organizations.Get(ctx, "bench"); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(began).Seconds(), "req/s")
}

// BenchmarkEmulatorThroughputCreateMember measures member creation (a write with validation and
// uniqueness checks) per second.
func BenchmarkEmulatorThroughputCreateMember(b *testing.B) {
	srv := stytchtest.NewServer()
	if err := srv.Start(""); err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	c, err := stytch.NewB2BClient(srv.B2BConfig(), stytch.WithRateLimit(math.Inf(1), 0))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Organizations.Create(ctx, stytch.CreateOrganizationParams{OrganizationName: "Bench", OrganizationSlug: "bench"}); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	began := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			email := "bench" + itoa(i) + "@example.com"
			if _, err := c.Members.Create(ctx, stytch.CreateMemberParams{OrganizationID: "bench", EmailAddress: email}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(began).Seconds(), "req/s")
}

func itoa(i int64) string {
	const digits = "0123456789"
	if i == 0 {
		return "0"
	}
	var buf [20]byte
	p := len(buf)
	for i > 0 {
		p--
		buf[p] = digits[i%10]
		i /= 10
	}
	return string(buf[p:])
}
