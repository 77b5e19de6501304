package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/diagnose"
	"github.com/eks-least-privilege/uploader/internal/policy"
)

// runPolicy prints one IAM policy document as JSON: `policy identity`, the
// put-only policy for S3_BUCKET_NAME and S3_KEY_PREFIX, or `policy trust`,
// the role's trust policy for the credential mode (the flags', else the one
// the SDK resolves or tried), from the projected token's iss and the pod's
// service account.
func runPolicy(ctx context.Context, cfg config, awsCfg aws.Config, args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "identity" && args[0] != "trust") {
		return fmt.Errorf("policy: want identity or trust, got %q", args)
	}
	fs := flag.NewFlagSet("policy "+args[0], flag.ContinueOnError)
	fs.SetOutput(stdout)
	mode := fs.String("mode", "", "irsa or pod-identity (default: the mode the SDK resolves)")
	ns := fs.String("namespace", os.Getenv(diagnose.EnvPodNamespace), "the pod's namespace (default: $POD_NAMESPACE, else the token's)")
	sa := fs.String("service-account", os.Getenv(diagnose.EnvPodServiceAccount), "the pod's service account (default: $POD_SERVICE_ACCOUNT, else the token's)")
	account := fs.String("account", "", "the AWS account (default: AWS_ROLE_ARN's, else the caller's)")
	issuer := fs.String("issuer", "", "IRSA: the cluster's OIDC issuer URL (default: the token's iss)")
	cluster := fs.String("cluster", "", "Pod Identity: the EKS cluster's name")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var doc []byte
	var err error
	if args[0] == "identity" {
		doc, err = policy.Identity(cfg.Bucket, cfg.KeyPrefix)
	} else {
		doc, err = trustPolicy(ctx, awsCfg, creds.Mode(*mode), *ns, *sa, *account, *issuer, *cluster)
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", doc)
	return err
}

// trustPolicy fills what the flags left empty from the SDK's identity (asked
// only when needed: it fails when the trust policy is what is wrong, but
// still names the mode tried) and the projected token's claims.
func trustPolicy(ctx context.Context, awsCfg aws.Config, mode creds.Mode, ns, sa, account, issuer, cluster string) ([]byte, error) {
	if r, err := arn.Parse(os.Getenv(diagnose.EnvRoleARN)); account == "" && err == nil {
		account = r.AccountID
	}
	if mode == "" || account == "" {
		id, _ := creds.Resolve(ctx, awsCfg)
		mode = cmp.Or(mode, id.Mode)
		account = cmp.Or(account, id.Account)
	}
	switch mode {
	case creds.ModeIRSA:
		if c, err := tokenClaims(diagnose.EnvWebIdentityTokenFile); err == nil {
			issuer, ns, sa = cmp.Or(issuer, c.Issuer), cmp.Or(ns, c.Namespace), cmp.Or(sa, c.ServiceAccount)
		}
		return policy.IRSATrust{Account: account, Issuer: issuer, Namespace: ns, ServiceAccount: sa}.Trust()
	case creds.ModePodIdentity:
		return policy.PodIdentityTrust{Account: account, Region: awsCfg.Region, Cluster: cluster}.Trust()
	}
	return nil, fmt.Errorf("policy trust: the credentials are of mode %q: pass --mode irsa or --mode pod-identity", mode)
}

func tokenClaims(key string) (diagnose.Claims, error) {
	data, err := os.ReadFile(os.Getenv(key))
	if err != nil {
		return diagnose.Claims{}, err
	}
	return diagnose.DecodeClaims(data)
}
