package diagnose

import (
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

// noAnswer wraps cause as the SDK reports a request that got no response:
// an operation error around the transport's *url.Error.
func noAnswer(service, operation, rawURL string, cause error) error {
	return &smithy.OperationError{ServiceID: service, OperationName: operation,
		Err: &url.Error{Op: "Post", URL: rawURL, Err: cause}}
}

func TestUnreachable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	tests := []struct {
		name     string
		err      error
		want     []Name
		contains []string
	}{
		{name: "regional sts refused", err: noAnswer("STS", "AssumeRoleWithWebIdentity", "https://sts.eu-west-1.amazonaws.com/", refused),
			want: []Name{STSUnreachable}, contains: []string{"https://sts.eu-west-1.amazonaws.com, the regional endpoint: connection refused", "interface VPC endpoint", "com.amazonaws.REGION.sts", "egress to 443"}},
		{name: "global sts timeout", err: noAnswer("STS", "AssumeRoleWithWebIdentity", "https://sts.amazonaws.com/", context.DeadlineExceeded),
			want: []Name{STSUnreachable}, contains: []string{"https://sts.amazonaws.com, the global endpoint: no answer before the deadline", "regional endpoint"}},
		{name: "sts name not resolved", err: noAnswer("STS", "GetCallerIdentity", "https://sts.eu-west-1.amazonaws.com/", &net.DNSError{Err: "no such host", Name: "sts.eu-west-1.amazonaws.com", IsNotFound: true}),
			want: []Name{STSUnreachable}, contains: []string{"the name sts.eu-west-1.amazonaws.com did not resolve (DNS)"}},
		{name: "sts vpc endpoint", err: noAnswer("STS", "AssumeRoleWithWebIdentity", "https://vpce-0abc-xyz.sts.eu-west-1.vpce.amazonaws.com/", context.DeadlineExceeded),
			want: []Name{STSUnreachable}, contains: []string{"the VPC endpoint endpoint"}},
		{name: "s3 virtual-hosted regional", err: noAnswer("S3", "PutObject", "https://images.s3.eu-west-1.amazonaws.com/k", refused),
			want: []Name{S3Unreachable}, contains: []string{"https://images.s3.eu-west-1.amazonaws.com, the regional endpoint", "gateway VPC endpoint"}},
		{name: "s3 custom endpoint", err: noAnswer("S3", "CreateMultipartUpload", "http://minio:9000/b/k", refused),
			want: []Name{S3Unreachable}, contains: []string{"http://minio:9000, the custom (AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL) endpoint"}},
		{name: "an answer is not this", err: errors.New("api error InternalFailure")},
		{name: "imds is not this", err: noAnswer("ec2imds", "GetMetadata", "http://169.254.169.254/", refused)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantNames(t, unreachable(tt.err, ""), tt.want, tt.contains...)
		})
	}
}

// A real STS client against a closed port and against a listener that
// never answers: both are sts_unreachable, the second within the deadline.
func TestUnreachableSTSOnTheWire(t *testing.T) {
	testenv.IsolateAWSEnv(t)
	closed := testenv.FreePort(t)
	for name, addr := range map[string]string{"closed port": closed, "never answers": testenv.SilentAddr(t)} {
		t.Run(name, func(t *testing.T) {
			client := sts.New(sts.Options{Region: "eu-west-1", BaseEndpoint: aws.String("http://" + addr),
				Credentials: credentials.NewStaticCredentialsProvider("AKIAEXAMPLE0000001", "canary-secret", "")})
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if ctx.Err() == nil && name == "never answers" {
				t.Fatalf("got %v before the deadline, want the deadline to end the wait", err)
			}
			// After the deadline the SDK's error names no URL: the client's
			// endpoint is named instead.
			wantNames(t, unreachable(err, "http://"+addr), []Name{STSUnreachable}, "http://"+addr+", the custom")
		})
	}
}

// When the deadline ends the wait for an IRSA exchange, the SDK's cache
// says only "request canceled": the endpoint is then the one the
// environment gives.
func TestUnreachableCredentialsAfterTheDeadline(t *testing.T) {
	canceled := &aws.RequestCanceledError{Err: context.DeadlineExceeded}
	env := func(vars map[string]string) Env { return func(k string) string { return vars[k] } }
	tests := []struct {
		name     string
		mode     creds.Mode
		env      map[string]string
		want     []Name
		contains string
	}{
		{name: "irsa regional", mode: creds.ModeIRSA, env: map[string]string{"AWS_REGION": "eu-west-1"},
			want: []Name{STSUnreachable}, contains: "https://sts.eu-west-1.amazonaws.com, the regional endpoint: no answer before the deadline"},
		{name: "irsa custom", mode: creds.ModeIRSA, env: map[string]string{"AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_STS": "https://sts.vpce.example"},
			want: []Name{STSUnreachable}, contains: "https://sts.vpce.example, the custom (AWS_ENDPOINT_URL_STS or AWS_ENDPOINT_URL) endpoint"},
		{name: "pod identity is the agent's", mode: creds.ModePodIdentity, env: map[string]string{"AWS_REGION": "eu-west-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var contains []string
			if tt.contains != "" {
				contains = append(contains, tt.contains)
			}
			wantNames(t, unreachableCredentials(&creds.Error{Mode: tt.mode, Err: canceled}, tt.mode, env(tt.env)), tt.want, contains...)
		})
	}
}
