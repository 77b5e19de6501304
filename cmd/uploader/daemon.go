package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/cycle"
	"github.com/eks-least-privilege/uploader/internal/diagnose"
	"github.com/eks-least-privilege/uploader/internal/fetch"
	"github.com/eks-least-privilege/uploader/internal/probes"
	"github.com/eks-least-privilege/uploader/internal/upload"
)

// runDaemon runs the upload loop and the metrics server until ctx ends or the
// loop is done. The server starts first, so that liveness answers while
// credentials resolve and the least-privilege check runs; readiness waits.
func runDaemon(ctx context.Context, cfg config, awsCfg aws.Config, s3Client *s3.Client, logger *slog.Logger) error {
	reg := prometheus.NewRegistry()
	metrics, err := cycle.NewMetrics(reg, version)
	if err != nil {
		return err
	}
	aborts, err := upload.NewAbortFailures(reg)
	if err != nil {
		return err
	}
	uploader := upload.New(s3Client, cfg.Bucket, upload.Options{Logger: logger, AbortFailures: aborts,
		Encryption: cfg.encryption(), ExpectedBucketOwner: cfg.ExpectedOwner})
	fetcher, err := fetch.New(cfg.SourceURL, fetch.Options{MaxBytes: int64(cfg.MaxImageBytes), Timeout: cfg.FetchTimeout})
	if err != nil {
		return fmt.Errorf("IMAGE_SOURCE_URL: %w", err)
	}
	host := cfg.PodName
	if host == "" {
		host, _ = os.Hostname()
	}
	watcher, err := creds.NewWatcher(awsCfg, logger, reg)
	if err != nil {
		return err
	}
	explainer, err := diagnose.NewExplainer(os.Getenv, cfg.RequireModes, reg)
	if err != nil {
		return err
	}
	explainer.Store = cfg.store(s3Client)
	watcher.Explain(explainer.Watch)
	health := cycle.NewHealth(time.Now(), cfg.Interval, cfg.CycleTimeout)
	gate := cycle.NewGate(watcher, cfg.RequireModes, health)
	loop, err := cycle.New(gate, fetcher, uploader, upload.Keys{Prefix: cfg.KeyPrefix, Host: host}.Next,
		cycle.Timing{Interval: cfg.Interval, CycleTimeout: cfg.CycleTimeout, ShutdownTimeout: cfg.ShutdownTimeout},
		metrics, health, logger, cycle.Options{Count: int(cfg.Count), MaxFailures: int(cfg.MaxFailures), Explain: explainer})
	if err != nil {
		return err
	}

	sctx, stop := context.WithCancel(ctx)
	defer stop()
	g, gctx := errgroup.WithContext(sctx)
	if cfg.MetricsAddr != "" {
		ln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("METRICS_ADDR: %w", err)
		}
		logger.Info("metrics server listening", "addr", ln.Addr().String())
		srv := probes.NewServer(probes.Handler(reg, health, time.Now), probes.Limits{}, logger)
		g.Go(func() error { return srv.Serve(gctx, ln) })
	}
	// Bounded: a credential endpoint that never answers must not hang the start.
	sctx2, cancel := context.WithTimeout(gctx, cfg.CycleTimeout)
	id, err := cycle.Start(sctx2, gate, cycle.StartOptions{LeastPrivilege: cfg.LeastPrivilege,
		Client: s3Client, Bucket: cfg.Bucket, Prefix: cfg.KeyPrefix, Check: cfg.checkOptions(),
		Registerer: reg, Logger: logger, Explainer: explainer})
	cancel()
	if err != nil {
		stop()
		_ = g.Wait()
		return err
	}
	logger.Info("uploader starting", "version", version, "host", host, "region", awsCfg.Region, "config", cfg,
		"credential_mode", id.Mode, "credential_source", id.Source)

	g.Go(func() error {
		defer stop() // the server stops with the loop: a finished Job exits
		return loop.Run(gctx)
	})
	if err := g.Wait(); err != nil {
		return err
	}
	if ctx.Err() != nil {
		logger.Info("stopped by signal")
	}
	return nil
}

// healthcheck asks a running uploader's /healthz on METRICS_ADDR, for
// container runtimes that have no shell or curl in a distroless image. It
// needs only METRICS_ADDR: the other variables' problems are run's to report.
func healthcheck(ctx context.Context) error {
	cfg, _ := loadConfig()
	url, err := probes.LocalURL(cfg.MetricsAddr, "/healthz")
	if err != nil {
		return fmt.Errorf("METRICS_ADDR: %w", err)
	}
	return probes.Healthy(ctx, url)
}
