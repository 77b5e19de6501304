package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"

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
	var in diagnose.TrustInputs
	mode := fs.String("mode", "", "irsa or pod-identity (default: the mode the SDK resolves)")
	fs.StringVar(&in.Namespace, "namespace", "", "the pod's namespace (default: $POD_NAMESPACE, else the token's)")
	fs.StringVar(&in.ServiceAccount, "service-account", "", "the pod's service account (default: $POD_SERVICE_ACCOUNT, else the token's)")
	fs.StringVar(&in.Account, "account", "", "the AWS account (default: AWS_ROLE_ARN's, else the caller's)")
	fs.StringVar(&in.Issuer, "issuer", "", "IRSA: the cluster's OIDC issuer URL (default: the token's iss)")
	fs.StringVar(&in.Cluster, "cluster", "", "Pod Identity: the EKS cluster's name")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	in.Mode = creds.Mode(*mode)
	var doc []byte
	var err error
	if args[0] == "identity" {
		doc, err = policy.Identity(cfg.Bucket, cfg.KeyPrefix)
	} else {
		doc, err = diagnose.TrustPolicy(ctx, awsCfg, os.Getenv, in)
	}
	if err != nil {
		return err
	}
	_, err = stdout.Write(doc) // the document ends in a newline
	return err
}
