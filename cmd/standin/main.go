// Command standin serves loopback stand-ins for AWS identity endpoints (IMDSv2,
// an OIDC issuer for IRSA, the EKS Pod Identity agent) in front of a local
// MinIO, for local development and demos; never for production.
//
//	standin imds|oidc|pod-identity|all [flags]
//
// Credentials served are minted by MinIO's STS AssumeRole for the put-only
// user named by -user and -secret (or $STANDIN_SECRET_KEY, kept out of ps).
// With -print-env it prints the environment the app needs, KEY=value lines,
// once listening. Logs (stderr) never carry secrets or tokens.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/eks-least-privilege/uploader/internal/probes"
	"github.com/eks-least-privilege/uploader/standin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "standin:", err)
		stop()
		os.Exit(1)
	}
}

const usage = `usage: standin imds|oidc|pod-identity|all [flags]
       standin healthcheck URL   exit 0 when URL answers below 500 (container healthchecks)`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	var services []string
	switch args[0] {
	case standin.ServiceIMDS, standin.ServiceOIDC, standin.ServicePodIdentity:
		services = []string{args[0]}
	case "all":
		services = standin.Services
	case "healthcheck":
		if len(args) != 2 {
			return errors.New("usage: standin healthcheck URL")
		}
		return healthcheck(ctx, args[1])
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		return fmt.Errorf("unknown stand-in %q: %s", args[0], usage)
	}

	fs := flag.NewFlagSet("standin "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "listen address, shared by the stand-ins")
	allowNonLoopback := fs.Bool("allow-non-loopback", false, "allow a non-loopback -listen address (docker compose)")
	endpoint := fs.String("minio-endpoint", "http://127.0.0.1:9000", "MinIO endpoint: STS for minted and IRSA credentials")
	user := fs.String("user", "", "access key of the put-only MinIO user (imds, pod-identity)")
	secret := fs.String("secret", "", "secret key of the put-only user; default $STANDIN_SECRET_KEY")
	tokenDir := fs.String("token-dir", "", "directory of the token files (default: a new temporary directory)")
	tokenFile := fs.String("token-file", "", "IRSA web identity token file (default: -token-dir/eks.amazonaws.com/serviceaccount/token)")
	podTokenFile := fs.String("pod-token-file", "", "Pod Identity token file (default: -token-dir/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token)")
	tokenLifetime := fs.Duration("token-lifetime", time.Hour, "lifetime of the tokens, rewritten at 80% of it; IRSA credentials end with the token")
	duration := fs.Duration("duration", standin.MinDuration, "lifetime asked of MinIO for minted credentials (MinIO's minimum is 15m)")
	advertise := fs.Duration("advertise", 0, "advertise this shorter lifetime for minted credentials, so clients refresh early (0: the real one)")
	namespace := fs.String("namespace", "default", "service account namespace, in token subjects")
	serviceAccount := fs.String("service-account", "uploader", "service account name, in token subjects")
	roleName := fs.String("role-name", "uploader-node-role", "IMDS instance profile role name")
	issuerURL := fs.String("issuer-url", "", "issuer URL the OIDC stand-in advertises, as MinIO reaches it (default: the listen URL)")
	roleARN := fs.String("role-arn", "", "IRSA role ARN (default: the ARN MinIO derives for client id sts.amazonaws.com)")
	hopLimit := fs.Bool("hop-limit-exceeded", false, "IMDS: never answer token requests, as with hop limit 1 from a pod")
	printEnv := fs.Bool("print-env", false, "print the AWS_* (and MinIO OpenID) environment lines once listening")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: %s", fs.Args(), usage)
	}
	if *secret == "" {
		*secret = os.Getenv("STANDIN_SECRET_KEY")
	}
	needsUser := args[0] != standin.ServiceOIDC
	if needsUser && (*user == "" || *secret == "") {
		return errors.New("-user and -secret (or STANDIN_SECRET_KEY) of the put-only MinIO user are required")
	}
	if *tokenDir == "" {
		dir, err := os.MkdirTemp("", "standin-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		*tokenDir = dir
	}
	abs := func(p string) string {
		if p == "" {
			return ""
		}
		a, err := filepath.Abs(p)
		if err != nil {
			return p
		}
		return a
	}

	logger := slog.New(slog.NewTextHandler(stderr, nil))
	stack, err := standin.StartStack(standin.StackOptions{
		Listen:           *listen,
		AllowNonLoopback: *allowNonLoopback,
		Services:         services,
		TokenDir:         abs(*tokenDir),
		IRSATokenFile:    abs(*tokenFile),
		PodTokenFile:     abs(*podTokenFile),
		TokenLifetime:    *tokenLifetime,
		ServiceAccount:   standin.ServiceAccount{Namespace: *namespace, Name: *serviceAccount},
		RoleARN:          *roleARN,
		IssuerURL:        *issuerURL,
		MinIOEndpoint:    *endpoint,
		IMDS:             standin.IMDSOptions{RoleName: *roleName},
		Logger:           logger,
	})
	if err != nil {
		return err
	}
	if needsUser {
		stack.UseMinter(standin.NewMinter(*endpoint, *user, *secret, standin.MinterOptions{
			Duration: *duration, Advertise: *advertise,
		}))
	}
	if stack.IMDS != nil {
		stack.IMDS.SetHopLimitExceeded(*hopLimit)
	}
	logger.Info("stand-ins listening", "url", stack.URL, "services", services, "minio_endpoint", *endpoint)

	if *printEnv {
		lines := stack.MinIOEnv("putonly")
		for _, s := range services {
			env, err := stack.Env(s)
			if err != nil {
				return err
			}
			lines = append(lines, env...)
		}
		for _, l := range lines {
			fmt.Fprintln(stdout, l)
		}
		if f, ok := stdout.(*os.File); ok {
			_ = f.Sync()
		}
	}

	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	logger.Info("stand-ins stopping")
	return stack.Close(shutdownCtx)
}

// healthcheck asks url and fails on no answer or a server error: an IMDS or
// agent stand-in answers 401 to a bare GET, which still means it is up.
func healthcheck(ctx context.Context, url string) error {
	status, err := probes.Get(ctx, url)
	if err != nil {
		return err
	}
	if status >= 500 {
		return fmt.Errorf("healthcheck %s: %d %s", url, status, http.StatusText(status))
	}
	return nil
}
