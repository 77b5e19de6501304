// Command uploader fetches a random image every UPLOAD_INTERVAL, checks that it
// really is an image within limits, and streams it into an S3 bucket through
// the AWS SDK's default credential chain, reporting which credential mode
// (static keys, node role, IRSA, Pod Identity, ...) is in use and whether it
// grants least privilege. It runs forever (a Deployment) or until UPLOAD_COUNT
// uploads are done (a Job). `uploader help` lists its configuration.
//
// This package is the command line only: dispatch, configuration, wiring and
// exit codes. The loop is internal/cycle; see ARCHITECTURE.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/settings"
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

// run is the program: it reads the configuration, builds every dependency and
// runs the command named by args. Only main exits.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	cmd := ""
	if len(args) > 0 {
		cmd = args[0]
	}
	// Arguments first: help needs no configuration.
	var policyReq policyRequest
	switch cmd {
	case "help", "-h", "-help", "--help":
		return usage(stdout)
	case "policy":
		var err error
		if policyReq, err = parsePolicy(args[1:], stdout); errors.Is(err, flag.ErrHelp) {
			return nil
		} else if err != nil {
			return err
		}
	case "", "check", "healthcheck", "version", "--version":
		if len(args) > 1 {
			_ = usage(stdout)
			if isHelp(args[1]) {
				return nil
			}
			return fmt.Errorf("%s: unexpected arguments %q", cmd, args[1:])
		}
	default:
		_ = usage(stdout)
		return fmt.Errorf("unknown command %q", cmd)
	}
	switch cmd {
	case "version", "--version":
		fmt.Fprintln(stdout, version)
		return nil
	case "healthcheck":
		return healthcheck(ctx)
	}

	cfg, awsCfg, err := loadAll(ctx)
	if err != nil {
		return err
	}
	if cmd == "policy" { // JSON only on stdout: no logger
		return runPolicy(ctx, cfg, awsCfg, policyReq, stdout)
	}
	logger := settings.Logger(stdout, cfg.LogFormat, cfg.LogLevel)
	// A library that writes to the standard logger (the transfer manager does
	// when a multipart upload fails) then writes JSON lines like ours.
	slog.SetDefault(logger)
	s3Client := upload.NewClient(awsCfg, upload.ClientOptions{UsePathStyle: cfg.UsePathStyle})
	if cmd == "check" {
		return runCheck(ctx, cfg, awsCfg, s3Client, stdout)
	}
	return runDaemon(ctx, cfg, awsCfg, s3Client, logger)
}

// isHelp reports whether a command-line argument asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "help", "-h", "-help", "--help":
		return true
	}
	return false
}

// usage prints the commands and every variable with its default and meaning.
func usage(w io.Writer) error {
	return settings.Help{
		Summary: "uploader " + version + ": fetches a random image every UPLOAD_INTERVAL and streams it into S3\n" +
			"through the AWS SDK default credential chain, reporting which credential mode is in use.\n",
		Commands: [][2]string{
			{"uploader", "run the upload loop (configured by the environment below)"},
			{"uploader check", "resolve credentials, print the identity and probe least privilege\n" +
				"(exit 0: least privilege holds; 3: over-privileged; 4: s3:PutObject denied)"},
			{"uploader policy identity|key|bucket|trust [flags]",
				"print, as JSON, the writer role's identity policy, its KMS key-policy statement, the bucket\n" +
					"owner's bucket policy, or the role's trust policy for the mode (--help on each lists its flags)"},
			{"uploader healthcheck", "exit 0 when the running uploader's /healthz answers 200 (for containers)"},
			{"uploader version", "print the version"},
			{"uploader help", "print this help"},
		},
		Notes: creds.ConfigHelp,
	}.Write(w, config{})
}
