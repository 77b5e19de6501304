package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/eks-least-privilege/uploader/test/mototest"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

// The chain of the tests: the pod's role in the cluster's account, the
// writer role and its bucket in the owner's.
const (
	chainSource   = "arn:aws:iam::111122223333:role/uploader-pod"
	chainWriter   = "arn:aws:iam::444455556666:role/uploader-writer"
	chainExternal = "ext-7f3a9c2e51d0"
	chainBucket   = "central-images"
)

// startChain isolates the AWS environment, starts moto with the owner's
// bucket, writes the chained profile and sets the uploader's configuration
// for it (AWS_PROFILE=writer, REQUIRE_CREDENTIAL_MODE=irsa), STS and S3 at
// what endpoint returns for moto's URL (moto itself when endpoint is nil).
// It returns moto's URL and a client of the bucket's owner.
func startChain(t *testing.T, endpoint func(moto *url.URL) string) (*url.URL, *s3.Client) {
	t.Helper()
	testenv.IsolateAWSEnv(t)
	moto, err := url.Parse(mototest.Start(t))
	if err != nil {
		t.Fatal(err)
	}
	admin := s3.New(s3.Options{Region: "eu-west-1", BaseEndpoint: aws.String(moto.String()), UsePathStyle: true,
		Credentials: aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIAOWNERADMIN000000", SecretAccessKey: "owner-admin"}, nil
		}))})
	if _, err := admin.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(chainBucket),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuWest1}}); err != nil {
		t.Fatal(err)
	}
	writeChainProfile(t, chainSource, chainWriter, chainExternal)
	ep := moto.String()
	if endpoint != nil {
		ep = endpoint(moto)
	}
	for k, v := range map[string]string{
		"AWS_PROFILE": "writer", "AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_STS": ep, "AWS_ENDPOINT_URL_S3": ep,
		"S3_USE_PATH_STYLE": "true", "S3_BUCKET_NAME": chainBucket, "S3_KEY_PREFIX": "uploads/", "REQUIRE_CREDENTIAL_MODE": "irsa",
	} {
		t.Setenv(k, v)
	}
	return moto, admin
}

// writeChainProfile writes, at AWS_CONFIG_FILE, the shared config of IRSA
// followed by sts:AssumeRole: profile "pod" (a token file and the pod's role
// source) and profile "writer" (role writer, with external). Moto does not
// check the token's signature.
func writeChainProfile(t *testing.T, source, writer, external string) {
	t.Helper()
	token := testenv.WriteFile(t, "token", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln")
	config := "[profile pod]\nweb_identity_token_file = " + token + "\nrole_arn = " + source +
		"\n[profile writer]\nsource_profile = pod\nrole_arn = " + writer + "\nexternal_id = " + external + "\n"
	if err := os.WriteFile(os.Getenv("AWS_CONFIG_FILE"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCheckJudgesTheFinalRole: `uploader check` in a pod whose profile
// chains IRSA into the bucket owner's writer role shows every hop, and
// every S3 request of the least-privilege probes is signed with the final
// role's key, the one sts:AssumeRole returned. Moto's S3 checks no policy
// (it allows every probe), so the verdict is over-privilege: what this
// proves is whose credentials are judged, not what AWS would allow.
func TestCheckJudgesTheFinalRole(t *testing.T) {
	// A recording proxy: the key id the AssumeRole answer carries, and the
	// key id that signs each S3 request.
	var (
		mu        sync.Mutex // guards assumed, s3Keys
		assumed   []string
		s3Keys    = map[string]int{}
		keyInAuth = regexp.MustCompile(`Credential=([A-Z0-9]+)/`)
		keyInXML  = regexp.MustCompile(`<AccessKeyId>([A-Z0-9]+)</AccessKeyId>`)
	)
	startChain(t, func(moto *url.URL) string {
		proxy := httputil.NewSingleHostReverseProxy(moto)
		proxy.ModifyResponse = func(resp *http.Response) error {
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			resp.Body = io.NopCloser(bytes.NewReader(body))
			if strings.Contains(string(body), "<AssumeRoleResponse") {
				if m := keyInXML.FindSubmatch(body); m != nil {
					mu.Lock()
					assumed = append(assumed, string(m[1]))
					mu.Unlock()
				}
			}
			return nil
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/"+chainBucket) {
				if m := keyInAuth.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
					mu.Lock()
					s3Keys[m[1]]++
					mu.Unlock()
				}
			}
			proxy.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, []string{"check"}, &out)
	var exit *exitError
	if !errors.As(err, &exit) || exit.code != 3 {
		t.Fatalf("uploader check: got %v, want exit 3 (moto allows every probe)\n%s", err, out.String())
	}
	for _, row := range []string{"credential mode:  irsa", "source role arn:  " + chainSource, "role arn:         " + chainWriter, "external id:      set (not shown)"} {
		if !strings.Contains(out.String(), row) {
			t.Errorf("want %q in\n%s", row, out.String())
		}
	}
	if strings.Contains(out.String(), "diagnosis ") {
		t.Errorf("a diagnosis for a chain that works:\n%s", out.String())
	}
	if strings.Contains(out.String(), chainExternal) {
		t.Errorf("the external id's value is printed:\n%s", out.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(assumed) != 1 || len(s3Keys) != 1 || s3Keys[assumed[0]] == 0 {
		t.Errorf("S3 requests signed by %v, want all by the key AssumeRole returned (%v)", s3Keys, assumed)
	}
}

// TestUploadThroughTheChain: the upload loop writes into the owner's bucket
// with the writer role reached through the chain, REQUIRE_CREDENTIAL_MODE
// judging the first hop: irsa starts, pod-identity refuses to start. The
// start line logs every hop, never the external id.
func TestUploadThroughTheChain(t *testing.T) {
	_, admin := startChain(t, nil)
	for k, v := range map[string]string{"IMAGE_SOURCE_URL": "builtin:", "UPLOAD_INTERVAL": "200ms", "UPLOAD_COUNT": "2", "METRICS_ADDR": "127.0.0.1:0"} {
		t.Setenv(k, v)
	}
	out, err := runFor(t, time.Minute)
	if err != nil {
		t.Fatalf("uploader: %v\n%s", err, out)
	}
	list, err := admin.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(chainBucket), Prefix: aws.String("uploads/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Contents) != 2 {
		t.Errorf("got %d objects under uploads/, want 2", len(list.Contents))
	}
	for _, want := range []string{`"source_role_arn":"` + chainSource + `"`, `"role_arn":"` + chainWriter + `"`, `"external_id":"set"`} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, chainExternal) {
		t.Errorf("the external id's value is logged:\n%s", out)
	}

	t.Setenv("REQUIRE_CREDENTIAL_MODE", "pod-identity")
	if out, err := runFor(t, time.Minute); err == nil || !strings.Contains(err.Error(), `credential mode "irsa"`) {
		t.Errorf("REQUIRE_CREDENTIAL_MODE=pod-identity: got %v, want a refusal naming irsa, the first hop\n%s", err, out)
	}
}
