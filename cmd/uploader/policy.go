package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/diagnose"
	"github.com/eks-least-privilege/uploader/internal/policy"
)

// policyRequest is a parsed `uploader policy` command line: which document,
// and for `trust` the inputs the flags give.
type policyRequest struct {
	doc   string // identity or trust
	trust diagnose.TrustInputs
}

// parsePolicy reads the arguments of `uploader policy`. It needs no
// configuration, so `uploader policy [identity|trust] --help` works without
// S3_BUCKET_NAME or AWS_REGION. It returns flag.ErrHelp when help was asked
// for and printed; without a document name it prints the usage and fails.
func parsePolicy(args []string, stdout io.Writer) (policyRequest, error) {
	usage := func() {
		fmt.Fprint(stdout, "usage: uploader policy identity|trust [flags]\n\n"+
			"  identity  the put-only IAM policy for S3_BUCKET_NAME and S3_KEY_PREFIX\n"+
			"  trust     the role's trust policy for the credential mode\n\n"+
			"`uploader policy trust --help` lists the flags.\n")
	}
	if len(args) == 0 || isHelp(args[0]) {
		usage()
		if len(args) == 0 {
			return policyRequest{}, errors.New("policy: want identity or trust")
		}
		return policyRequest{}, flag.ErrHelp
	}
	if args[0] != "identity" && args[0] != "trust" {
		usage()
		return policyRequest{}, fmt.Errorf("policy: want identity or trust, got %q", args[0])
	}
	req := policyRequest{doc: args[0]}
	fs := flag.NewFlagSet("uploader policy "+args[0], flag.ContinueOnError)
	fs.SetOutput(stdout)
	in := &req.trust
	mode := fs.String("mode", "", "irsa or pod-identity (default: the mode the SDK resolves)")
	fs.StringVar(&in.Namespace, "namespace", "", "the pod's namespace (default: $POD_NAMESPACE, else the token's)")
	fs.StringVar(&in.ServiceAccount, "service-account", "", "the pod's service account (default: $POD_SERVICE_ACCOUNT, else the token's)")
	fs.StringVar(&in.Account, "account", "", "the AWS account (default: AWS_ROLE_ARN's, else the caller's)")
	fs.StringVar(&in.Issuer, "issuer", "", "IRSA: the cluster's OIDC issuer URL (default: the token's iss)")
	fs.StringVar(&in.Cluster, "cluster", "", "Pod Identity: the EKS cluster's name")
	if err := fs.Parse(args[1:]); err != nil {
		return policyRequest{}, err
	}
	in.Mode = creds.Mode(*mode)
	return req, nil
}

// runPolicy prints one IAM policy document as JSON: `policy identity`, the
// put-only policy for S3_BUCKET_NAME and S3_KEY_PREFIX, or `policy trust`,
// the role's trust policy for the credential mode (the flags', else the one
// the SDK resolves or tried), from the projected token's iss and the pod's
// service account.
func runPolicy(ctx context.Context, cfg config, awsCfg aws.Config, req policyRequest, stdout io.Writer) error {
	var doc []byte
	var err error
	if req.doc == "identity" {
		doc, err = policy.Identity(cfg.Bucket, cfg.KeyPrefix)
	} else {
		doc, err = diagnose.TrustPolicy(ctx, awsCfg, os.Getenv, req.trust)
	}
	if err != nil {
		return err
	}
	_, err = stdout.Write(doc) // the document ends in a newline
	return err
}
