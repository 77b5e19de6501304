package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/policy"
)

// policyDocs are the documents `uploader policy` prints.
var policyDocs = []string{"identity", "key", "bucket", "trust"}

// policyRequest is a parsed `uploader policy` command line: which document,
// and the inputs its flags give (empty: found from the configuration and the
// identity the SDK resolves).
type policyRequest struct {
	doc    string // one of policyDocs
	trust  policy.TrustInputs
	writer policy.WriterInputs
	kmsKey string // identity, key, bucket: the KMS key
}

// parsePolicy reads the arguments of `uploader policy`. It needs no
// configuration, so `uploader policy [DOC] --help` works without
// S3_BUCKET_NAME or AWS_REGION. It returns flag.ErrHelp when help was asked
// for and printed; without a document name it prints the usage and fails.
func parsePolicy(args []string, stdout io.Writer) (policyRequest, error) {
	usage := func() {
		fmt.Fprint(stdout, "usage: uploader policy identity|key|bucket|trust [flags]\n\n"+
			"  identity  the writer role's IAM policy: s3:PutObject under S3_KEY_PREFIX in S3_BUCKET_NAME and,\n"+
			"            with S3_SSE=aws:kms* and a key, exactly the KMS calls a put makes\n"+
			"  key       the statement the KMS key's policy adds for the writer role\n"+
			"  bucket    the bucket owner's bucket-policy statements: the writer role's put from another\n"+
			"            account, denies without TLS and without the configured encryption\n"+
			"  trust     the role's trust policy for the credential mode (irsa, pod-identity, assume-role)\n\n"+
			"`uploader policy DOC --help` lists its flags.\n")
	}
	want := "policy: want " + strings.Join(policyDocs, ", ")
	if len(args) == 0 || isHelp(args[0]) {
		usage()
		if len(args) == 0 {
			return policyRequest{}, errors.New(want)
		}
		return policyRequest{}, flag.ErrHelp
	}
	req := policyRequest{doc: args[0]}
	fs := flag.NewFlagSet("uploader policy "+args[0], flag.ContinueOnError)
	fs.SetOutput(stdout)
	roleFlag := func() {
		fs.StringVar(&req.writer.RoleARN, "role-arn", "", "the writer role (default: the role the SDK resolves, the last of a chain)")
	}
	keyFlag := func() {
		fs.StringVar(&req.kmsKey, "kms-key", "", "the KMS key's ARN, or a key id in the caller's account (default: S3_SSE_KMS_KEY_ID; an alias cannot stand in a policy)")
	}
	var mode string
	var tagSession bool
	switch req.doc {
	case "identity":
		keyFlag()
	case "key":
		roleFlag()
		keyFlag()
	case "bucket":
		roleFlag()
		keyFlag()
		fs.StringVar(&req.writer.Account, "account", "", "the bucket owner's account (default: the caller's)")
	case "trust":
		in := &req.trust
		fs.StringVar(&mode, "mode", "", "irsa, pod-identity or assume-role (default: the mode the SDK resolves)")
		fs.StringVar(&in.Namespace, "namespace", "", "the pod's namespace (default: $POD_NAMESPACE, else the token's)")
		fs.StringVar(&in.ServiceAccount, "service-account", "", "the pod's service account (default: $POD_SERVICE_ACCOUNT, else the token's)")
		fs.StringVar(&in.Account, "account", "", "the AWS account (default: AWS_ROLE_ARN's, else the caller's)")
		fs.StringVar(&in.Issuer, "issuer", "", "IRSA: the cluster's OIDC issuer URL (default: the token's iss)")
		fs.StringVar(&in.Cluster, "cluster", "", "Pod Identity: the EKS cluster's name")
		fs.StringVar(&in.SourceRoleARN, "source-role-arn", "", "assume-role: the role that assumes this one (default: the first hop of the SDK's chain, else the role it resolves)")
		fs.StringVar(&in.ExternalID, "external-id", "", "assume-role: the sts:ExternalId required (default: the profile's external_id); for a Pod Identity target role, the association's externalId")
		fs.BoolVar(&tagSession, "tag-session", false, "assume-role: also allow sts:TagSession, which EKS Pod Identity needs for a target role (default: when the SDK resolves pod-identity)")
	default:
		usage()
		return policyRequest{}, fmt.Errorf("%s, got %q", want, args[0])
	}
	if err := fs.Parse(args[1:]); err != nil {
		return policyRequest{}, err
	}
	if fs.NArg() > 0 {
		return policyRequest{}, fmt.Errorf("policy %s: unexpected arguments %q", req.doc, fs.Args())
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "tag-session" {
			req.trust.TagSession = &tagSession
		}
	})
	req.trust.Mode = creds.Mode(mode)
	return req, nil
}

// runPolicy prints one IAM policy document as JSON. What the flags leave
// out comes from the configuration (bucket, prefix, region, encryption) and,
// in internal/policy, from the identity the SDK resolves.
func runPolicy(ctx context.Context, cfg config, awsCfg aws.Config, req policyRequest, stdout io.Writer) error {
	var doc []byte
	var err error
	if req.doc == "trust" {
		doc, err = policy.RoleTrust(ctx, awsCfg, os.Getenv, req.trust)
	} else {
		t := policy.Target{Bucket: cfg.Bucket, Prefix: cfg.KeyPrefix, Region: awsCfg.Region,
			SSE: string(cfg.SSE), KMSKeyID: cmp.Or(req.kmsKey, cfg.SSEKMSKeyID), BucketKey: cfg.BucketKey}
		doc, err = policy.Writer(ctx, awsCfg, req.doc, t, req.writer)
	}
	if err != nil {
		return err
	}
	_, err = stdout.Write(doc) // the document ends in a newline
	return err
}
