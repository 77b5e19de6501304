// Command uploader fetches a random image every UPLOAD_INTERVAL, checks that it
// really is an image within limits, and streams it into an S3 bucket through
// the AWS SDK's default credential chain, reporting which credential mode
// (static keys, node role, IRSA, Pod Identity, ...) is in use and whether it
// grants least privilege. It runs forever (a Deployment) or until UPLOAD_COUNT
// uploads are done (a Job). `uploader help` lists its configuration.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/fetch"
	"github.com/eks-least-privilege/uploader/internal/upload"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "uploader: %v\n", err)
		os.Exit(exitCode(err))
	}
}

// exitError carries a process exit code other than 1.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 1
}

// run is the program: it reads the configuration, builds every dependency and
// runs the command named by args. Only main exits.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	cmd := ""
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return nil
	case "version", "--version":
		fmt.Fprintln(stdout, version)
		return nil
	case "healthcheck":
		addr, ok := os.LookupEnv("METRICS_ADDR")
		if !ok {
			addr = defaultOf("METRICS_ADDR")
		}
		return healthcheck(ctx, addr)
	case "", "check":
	default:
		usage(stdout)
		return fmt.Errorf("unknown command %q", cmd)
	}

	cfg, awsCfg, err := loadAll(ctx)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stdout)
	// A library that writes to the standard logger (the transfer manager does
	// when a multipart upload fails) then writes JSON lines like ours.
	slog.SetDefault(logger)
	s3Client := upload.NewClient(awsCfg, upload.ClientOptions{UsePathStyle: cfg.UsePathStyle})
	if cmd == "check" {
		return runCheck(ctx, cfg, awsCfg, s3Client, stdout)
	}
	return runDaemon(ctx, cfg, awsCfg, s3Client, logger)
}

// loadAll reads the uploader's configuration and the SDK's, and reports
// every problem of both at once.
func loadAll(ctx context.Context) (config, aws.Config, error) {
	cfg, problems := loadConfig()
	// Refresh temporary credentials up to a minute before they expire, so that
	// a request signed just before expiry does not reach S3 just after it.
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithCredentialsCacheOptions(func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = expiryWindow
		o.ExpiryWindowJitterFrac = 0.5
	}))
	if err != nil {
		problems = errors.Join(problems, fmt.Errorf("AWS configuration: %w", err))
	} else if awsCfg.Region == "" {
		// The SDK reads AWS_REGION, AWS_DEFAULT_REGION and the shared profile.
		problems = errors.Join(problems, errors.New("AWS_REGION: required (or AWS_DEFAULT_REGION, or region in the AWS profile), not set"))
	}
	if problems != nil {
		return cfg, awsCfg, fmt.Errorf("invalid configuration (see uploader help):\n%w", problems)
	}
	return cfg, awsCfg, nil
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	level, _ := parseLevel(cfg.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("must be debug, info, warn or error, got %q", s)
	}
	return l, nil
}

// runCheck prints the identity and the least-privilege table; its exit code
// tells whether least privilege holds.
func runCheck(ctx context.Context, cfg config, awsCfg aws.Config, client *s3.Client, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.CycleTimeout)
	defer cancel()
	id, err := creds.Resolve(ctx, awsCfg, creds.Options{})
	if err != nil {
		return fmt.Errorf("resolve credentials: %w", err)
	}
	printIdentity(stdout, id)
	for _, w := range id.Warnings() {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	report, err := creds.Check(ctx, client, cfg.Bucket, cfg.KeyPrefix, creds.CheckOptions{})
	if err != nil {
		return fmt.Errorf("least-privilege check: %w", err)
	}
	fmt.Fprintln(stdout)
	report.WriteTable(stdout)
	if code := report.ExitCode(); code != 0 {
		return &exitError{code: code, err: fmt.Errorf("least-privilege check: %s", report.Verdict())}
	}
	return nil
}

func printIdentity(w io.Writer, id creds.Identity) {
	caller := id.CallerARN
	if caller == "" {
		caller = id.CallerUnavailable
	}
	expires := "never (long-lived keys)"
	if id.CanExpire {
		expires = id.Expires.UTC().Format(time.RFC3339)
	}
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for _, row := range [][2]string{
		{"credential mode", string(id.Mode)}, {"provider source", id.Source},
		{"access key id", id.AccessKeyID}, {"role arn", id.RoleARN},
		{"caller arn", caller}, {"account", id.Account}, {"expires", expires},
	} {
		if row[1] != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
		}
	}
	tw.Flush()
}

// runDaemon runs the upload loop and the metrics server until ctx ends or the
// loop is done.
func runDaemon(ctx context.Context, cfg config, awsCfg aws.Config, s3Client *s3.Client, logger *slog.Logger) error {
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg)
	if err != nil {
		return err
	}
	now := time.Now
	fetcher, err := fetch.New(cfg.SourceURL, fetch.Options{MaxBytes: cfg.MaxImageBytes, Timeout: cfg.FetchTimeout})
	if err != nil {
		return fmt.Errorf("IMAGE_SOURCE_URL: %w", err)
	}
	host := cfg.PodName
	if host == "" {
		host, _ = os.Hostname()
	}
	h := &health{start: now(), stale: cfg.Interval + cfg.CycleTimeout + 10*time.Second, firstWait: cfg.Interval}
	h.beat(now())

	// The server starts first, so that liveness answers while credentials
	// resolve and the least-privilege check runs; readiness waits for them.
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	g, gctx := errgroup.WithContext(sctx)
	if cfg.MetricsAddr != "" {
		ln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("METRICS_ADDR: %w", err)
		}
		logger.Info("metrics server listening", "addr", ln.Addr().String())
		srv := &http.Server{Handler: newHandler(reg, h, now), ReadHeaderTimeout: 5 * time.Second}
		g.Go(func() error { return serve(gctx, srv, ln) })
	}
	cc, id, err := newCredsCheck(gctx, cfg, awsCfg, s3Client, reg, logger, h)
	if err != nil {
		stop()
		_ = g.Wait()
		return err
	}
	logger.Info("uploader starting", "version", version, "host", host, "region", awsCfg.Region, "config", cfg,
		"credential_mode", id.Mode, "credential_source", id.Source)

	l := &loop{
		fetcher: fetcher, creds: cc,
		// Abort a cancelled multipart upload quickly: SHUTDOWN_TIMEOUT plus
		// this stays below Kubernetes' 30 s grace period.
		uploader: upload.New(s3Client, cfg.Bucket, upload.Options{AbortTimeout: abortTimeout}),
		keys:     upload.Keys{Prefix: cfg.KeyPrefix, Host: host}.Next,
		metrics:  m, health: h, logger: logger,
		interval: cfg.Interval, count: cfg.Count, maxFailures: cfg.MaxFailures,
		cycleTimeout: cfg.CycleTimeout, shutdownTimeout: cfg.ShutdownTimeout,
		now: now, jitter: defaultJitter,
	}
	g.Go(func() error {
		defer stop() // the server stops with the loop: a finished Job exits
		defer h.stopped.Store(true)
		return l.run(gctx)
	})
	if err := g.Wait(); err != nil {
		return err
	}
	if ctx.Err() != nil {
		logger.Info("stopped by signal")
	}
	return nil
}

// expiryWindow is how long before their expiry temporary credentials are
// refreshed (less up to half of it, jittered); a variable for the rotation test.
var expiryWindow = time.Minute

// abortTimeout bounds the abort of a failed multipart upload.
const abortTimeout = 4 * time.Second

// credsCheck resolves the credentials each cycle and enforces the required modes.
type credsCheck struct {
	watcher *creds.Watcher
	allowed []creds.Mode
	health  *health
}

// newCredsCheck resolves the credentials at start, enforces
// REQUIRE_CREDENTIAL_MODE and runs the least-privilege check if asked. The
// Identity is zero when credentials are unavailable and nothing requires them.
func newCredsCheck(ctx context.Context, cfg config, awsCfg aws.Config, client *s3.Client, reg prometheus.Registerer, logger *slog.Logger, h *health) (*credsCheck, creds.Identity, error) {
	allowed, err := creds.ParseModes(cfg.RequireModes)
	if err != nil {
		return nil, creds.Identity{}, fmt.Errorf("REQUIRE_CREDENTIAL_MODE: %w", err)
	}
	w, err := creds.NewWatcher(awsCfg, logger, reg, creds.Options{})
	if err != nil {
		return nil, creds.Identity{}, err
	}
	c := &credsCheck{watcher: w, allowed: allowed, health: h}
	// Bounded: a credential endpoint that accepts and never answers must not
	// hang the start (the SDK's HTTP client has no response timeout).
	ctx, cancel := context.WithTimeout(ctx, cfg.CycleTimeout)
	defer cancel()
	id, reason, err := c.resolve(ctx)
	if err != nil {
		// Without a required mode the loop counts and retries; with one, the
		// mode cannot be proven, so refusing to start is the safe answer.
		if len(allowed) > 0 || cfg.LeastPrivilege == "enforce" {
			return nil, id, fmt.Errorf("resolve credentials: %w", err)
		}
		logger.Error("credentials unavailable at start", "reason", reason, "err", err)
		return c, id, nil
	}
	for _, w := range id.Warnings() {
		logger.Warn("weak credential mode", "mode", id.Mode, "warning", w)
	}
	if cfg.LeastPrivilege != "off" {
		if err := leastPrivilegeAtStart(ctx, cfg, client, reg, logger); err != nil {
			return nil, id, err
		}
	}
	return c, id, nil
}

// leastPrivilegeAtStart runs the least-privilege check: with "enforce" a
// failed or inconclusive check stops the start; with "warn" it is logged.
func leastPrivilegeAtStart(ctx context.Context, cfg config, client *s3.Client, reg prometheus.Registerer, logger *slog.Logger) error {
	// The gauge is registered only when the check runs: 0 never means "not checked".
	lp, err := creds.NewCheckMetric(reg)
	if err != nil {
		return err
	}
	report, err := creds.Check(ctx, client, cfg.Bucket, cfg.KeyPrefix, creds.CheckOptions{})
	lp.Set(report, err)
	enforce := cfg.LeastPrivilege == "enforce"
	switch {
	case err != nil && enforce:
		return fmt.Errorf("least-privilege check: %w", err)
	case err != nil:
		logger.Warn("least-privilege check could not run", "err", err)
	case report.ExitCode() != 0:
		var table strings.Builder
		report.WriteTable(&table)
		if enforce {
			return fmt.Errorf("least-privilege check: %s\n%s", report.Verdict(), table.String())
		}
		logger.Warn("least privilege does not hold", "verdict", report.Verdict(), "table", table.String())
	default:
		logger.Info("least privilege holds", "verdict", report.Verdict())
	}
	return nil
}

func (c *credsCheck) check(ctx context.Context) (string, error) {
	_, reason, err := c.resolve(ctx)
	return reason, err
}

// resolve resolves the credentials (cheap: the SDK caches them) and enforces
// the required modes; readiness follows the result.
func (c *credsCheck) resolve(ctx context.Context) (creds.Identity, string, error) {
	id, err := c.watcher.Check(ctx)
	reason := ""
	switch {
	case err != nil:
		reason = creds.Reason(err)
	case len(c.allowed) > 0:
		if err = creds.Require(id, c.allowed); err != nil {
			reason = reasonModeNotAllowed
		}
	}
	c.health.credsOK.Store(err == nil)
	return id, reason, err
}
