package deploy_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/eks-least-privilege/uploader/test/mototest"
	"github.com/eks-least-privilege/uploader/test/testenv"
)

// The walkthrough (deploy/aws/eks-demo.sh, eks-clean.sh) against a real AWS
// API emulator: moto_server on 127.0.0.1, driven by the real aws CLI (v1,
// which reads only AWS_DEFAULT_REGION: the environment here sets AWS_REGION
// alone and no config file, so a script that does not pass the region on
// fails). Stand-ins on PATH (testdata/walkthrough) replace only what moto
// has no API for: kubectl (no cluster), docker (no engine, no registry; a
// push puts an image index into ECR through moto's API), and the EKS calls
// moto lacks (describe-addon and the Pod Identity association API).
//
// Where moto is more lenient than AWS, the test cannot judge and says so:
//   - IAM is not enforced (moto runs without authentication): every call
//     succeeds; AccessDenied is simulated by the stand-in
//     (WALKTHROUGH_DENY) for the list call the issue names.
//   - Trust policies are never evaluated: the test reads the trust policy
//     documents the scripts wrote and checks their principals and
//     conditions itself; whether STS would honour them only AWS can tell.
//   - IAM and STS are consistent at once: a new role, user or key is usable
//     immediately, so the waits are asserted as calls in order (create, then
//     wait or retry until usable), not observed to be needed.
//   - ECR scan on push stores the setting and scans nothing; the image
//     pushed is an index of placeholder manifests, not a built image.
//   - The Job never runs: the kubectl stand-in completes it at once and its
//     log reports the mode of the overlay applied.

// walkthrough is one emulated account with a cluster: moto_server and the
// stand-ins' state.
type walkthrough struct {
	t        *testing.T
	dir      string
	endpoint string
	realAWS  string
	python   string
	env      []string
	repoRoot string
}

const (
	wtCluster  = "uploader-demo"
	wtRegion   = "eu-west-1"
	wtNodeRole = "eksctl-uploader-demo-nodegroup-NodeInstanceRole"
)

func startWalkthrough(t *testing.T) *walkthrough {
	t.Helper()
	var tools = map[string]string{}
	for _, tool := range []string{"aws", "python3", "jq"} {
		path, err := exec.LookPath(tool)
		if err != nil {
			testenv.Unavailable(t, tool+" is not installed (aws: pip install 'awscli<2'; jq: apt-get install jq)")
		}
		tools[tool] = path
	}
	// Version managers (pyenv) put shims on PATH that start a shell and then
	// the program: call the aws CLI next to the interpreter itself instead
	// (each script makes dozens of aws calls).
	if out, err := exec.Command(tools["python3"], "-c", "import sys; print(sys.executable)").Output(); err == nil {
		python := strings.TrimSpace(string(out))
		tools["python3"] = python
		if real := filepath.Join(filepath.Dir(python), "aws"); fileExists(real) {
			tools["aws"] = real
		}
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	w := &walkthrough{t: t, dir: t.TempDir(), realAWS: tools["aws"], python: tools["python3"], repoRoot: root}
	w.endpoint = mototest.Start(t)

	bin := filepath.Join(w.dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	standin := filepath.Join(root, "deploy/testdata/walkthrough/standin.py")
	// Each stand-in records its call (tool and arguments, tab-separated, one
	// line) and then answers it; aws passes what moto serves to the real CLI
	// without starting the stand-in.
	record := `{ printf '%s' "${0##*/}"; printf '\t%s' "$@"; printf '\n'; } >>"$WALKTHROUGH_LOG"` + "\n"
	wrappers := map[string]string{
		"aws": record + fmt.Sprintf(`case "$1 $2" in
"eks describe-addon" | "eks "*pod-identity-association*) exec %q %q aws "$@" ;;
esac
exec %q "$@"
`, tools["python3"], standin, tools["aws"]),
		"kubectl": record + fmt.Sprintf("exec %q %q kubectl \"$@\"\n", tools["python3"], standin),
		"docker":  record + fmt.Sprintf("exec %q %q docker \"$@\"\n", tools["python3"], standin),
	}
	for tool, script := range wrappers {
		if err := os.WriteFile(filepath.Join(bin, tool), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AWS_") || strings.HasPrefix(name, "S3_") || strings.HasPrefix(name, "WALKTHROUGH_") ||
			slices.Contains([]string{"PATH", "HOME", "MODE", "IMAGE", "PLATFORMS", "DRY_RUN", "CLUSTER_NAME", "NODEGROUP_NAME",
				"KUBECONFIG", "CONTAINER_ENGINE", "WORK_DIR"}, name) {
			continue
		}
		w.env = append(w.env, kv)
	}
	w.env = append(w.env,
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+w.dir,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing",
		"AWS_REGION="+wtRegion, // and no AWS_DEFAULT_REGION: see above
		"AWS_ENDPOINT_URL="+w.endpoint, "AWS_EC2_METADATA_DISABLED=true",
		"IAM_SETTLE_SECONDS=0", "WAIT_SECONDS=30",
		"WORK_DIR="+filepath.Join(w.dir, "work"),
		"WALKTHROUGH_STATE="+filepath.Join(w.dir, "state.json"),
		"WALKTHROUGH_LOG="+filepath.Join(w.dir, "calls.jsonl"),
		"WALKTHROUGH_REAL_AWS="+tools["aws"],
		"WALKTHROUGH_ADDONS=eks-pod-identity-agent",
	)
	w.seed()
	return w
}

// seed makes what deploy/aws/cluster.yaml (eksctl) makes and the scripts
// expect: the cluster with its OIDC provider, two node groups (arm64 and
// amd64) on the node role, and a running node with IMDSv1 still allowed.
func (w *walkthrough) seed() {
	nodeRole := w.aws("iam", "create-role", "--role-name", wtNodeRole, "--query", "Role.Arn", "--output", "text",
		"--assume-role-policy-document", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)
	w.aws("eks", "create-cluster", "--name", wtCluster, "--role-arn", "arn:aws:iam::123456789012:role/eks-cluster",
		"--resources-vpc-config", "subnetIds=subnet-0123")
	for name, ami := range map[string]string{"default": "AL2023_ARM_64_STANDARD", "amd": "AL2023_x86_64_STANDARD"} {
		w.aws("eks", "create-nodegroup", "--cluster-name", wtCluster, "--nodegroup-name", name, "--node-role", nodeRole,
			"--subnets", "subnet-0123", "--ami-type", ami)
	}
	issuer := w.aws("eks", "describe-cluster", "--name", wtCluster, "--query", "cluster.identity.oidc.issuer", "--output", "text")
	w.aws("iam", "create-open-id-connect-provider", "--url", issuer, "--client-id-list", "sts.amazonaws.com",
		"--thumbprint-list", "9e99a48a9960b14926bb7f3b02e22da2b0ab7280")
	ami := w.aws("ec2", "describe-images", "--owners", "amazon", "--query", "Images[0].ImageId", "--output", "text")
	w.aws("ec2", "run-instances", "--image-id", ami, "--count", "1", "--instance-type", "t3.small",
		"--metadata-options", "HttpTokens=optional,HttpPutResponseHopLimit=1,HttpEndpoint=enabled",
		"--tag-specifications", "ResourceType=instance,Tags=[{Key=eks:cluster-name,Value="+wtCluster+"}]")
}

// aws runs the real aws CLI against moto (not through the recording
// stand-in) and returns its trimmed stdout.
func (w *walkthrough) aws(args ...string) string {
	w.t.Helper()
	out, err := w.awsErr(args...)
	if err != nil {
		w.t.Fatalf("aws %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func (w *walkthrough) awsErr(args ...string) (string, error) {
	cmd := exec.Command(w.realAWS, append(args, "--region", wtRegion)...)
	cmd.Env = w.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// call is one recorded call of a stand-in: the tool and its arguments.
type call struct {
	Tool string
	Args []string
}

func (c call) String() string { return c.Tool + " " + strings.Join(c.Args, " ") }

// script runs deploy/aws/<name> with extra environment and returns its
// output, the calls it made through the stand-ins, and its error.
func (w *walkthrough) script(name string, env ...string) (string, []call, error) {
	w.t.Helper()
	logPath := filepath.Join(w.dir, "calls.jsonl")
	if err := os.WriteFile(logPath, nil, 0o644); err != nil {
		w.t.Fatal(err)
	}
	cmd := exec.Command("bash", filepath.Join(w.repoRoot, "deploy/aws", name))
	cmd.Env = append(slices.Clone(w.env), env...)
	out, err := cmd.CombinedOutput()
	f, ferr := os.Open(logPath)
	if ferr != nil {
		w.t.Fatal(ferr)
	}
	defer f.Close()
	var calls []call
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		calls = append(calls, call{Tool: fields[0], Args: fields[1:]})
	}
	return string(out), calls, err
}

func (w *walkthrough) mustScript(name string, env ...string) (string, []call) {
	w.t.Helper()
	out, calls, err := w.script(name, env...)
	if err != nil {
		w.t.Fatalf("%s %v: %v\n%s", name, env, err, out)
	}
	return out, calls
}

// standinState is the kubectl and EKS stand-ins' state.
type standinState struct {
	Associations []map[string]any `json:"associations"`
	Namespaces   map[string]struct {
		Secrets map[string]map[string]string `json:"secrets"`
		Jobs    map[string]map[string]string `json:"jobs"`
	} `json:"namespaces"`
}

func (w *walkthrough) state() standinState {
	w.t.Helper()
	var s standinState
	raw, err := os.ReadFile(filepath.Join(w.dir, "state.json"))
	if os.IsNotExist(err) {
		return s
	}
	if err != nil {
		w.t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		w.t.Fatal(err)
	}
	return s
}

// account is what testdata/walkthrough/account.py reports of the emulated
// account: every demo resource the walkthrough may create or change.
type account struct {
	Roles map[string]struct {
		Trust    policyDocument `json:"trust"`
		Attached []string       `json:"attached"`
	} `json:"roles"`
	Users map[string]struct {
		Keys     []string `json:"keys"`
		Attached []string `json:"attached"`
	} `json:"users"`
	Policies map[string]struct {
		Default  string         `json:"default"`
		Versions []string       `json:"versions"`
		Document policyDocument `json:"document"`
	} `json:"policies"`
	Buckets map[string]struct {
		Tags              []map[string]string `json:"tags"`
		PublicAccessBlock map[string]bool     `json:"public_access_block"`
		Lifecycle         []map[string]any    `json:"lifecycle"`
		Keys              []string            `json:"keys"`
	} `json:"buckets"`
	Repositories map[string]struct {
		URI        string              `json:"uri"`
		Mutability string              `json:"mutability"`
		ScanOnPush bool                `json:"scan_on_push"`
		Tags       []map[string]string `json:"tags"`
		Images     []struct {
			Digest   string   `json:"digest"`
			Tags     []string `json:"tags"`
			Manifest struct {
				Manifests []struct {
					Platform struct{ Architecture string } `json:"platform"`
				} `json:"manifests"`
			} `json:"manifest"`
		} `json:"images"`
	} `json:"repositories"`
	Instances []map[string]any `json:"instances"`
	raw       string
}

func (w *walkthrough) account() account {
	w.t.Helper()
	cmd := exec.Command(w.python, filepath.Join(w.repoRoot, "deploy/testdata/walkthrough/account.py"), wtNodeRole)
	cmd.Env = w.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		w.t.Fatalf("account.py: %v\n%s", err, stderr.String())
	}
	var a account
	if err := json.Unmarshal(out, &a); err != nil {
		w.t.Fatalf("account.py: %v\n%s", err, out)
	}
	a.raw = string(out)
	return a
}

// snapshot is everything the walkthrough may create or change, as text
// (the Job aside: every run replaces it by design).
func (w *walkthrough) snapshot() string {
	w.t.Helper()
	s := w.state()
	for _, ns := range s.Namespaces {
		for _, job := range ns.Jobs {
			delete(job, "kustomization") // the Job is replaced on every run
		}
		for _, secret := range ns.Secrets {
			if v, ok := secret["AWS_SECRET_ACCESS_KEY"]; ok { // compared, never printed
				secret["AWS_SECRET_ACCESS_KEY"] = fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(v)))
			}
		}
	}
	st, _ := json.Marshal(s)
	return w.account().raw + "\n" + string(st)
}

const (
	wtPolicy = "arn:aws:iam::123456789012:policy/uploader-demo-put-only"
	wtBucket = "uploader-demo-123456789012-" + wtRegion
	wtRepo   = "uploader-demo/uploader"
)

// remainingAWS lists every demo resource left on the AWS side.
func (w *walkthrough) remainingAWS() []string {
	w.t.Helper()
	a := w.account()
	var left []string
	for name, r := range a.Roles {
		if name != wtNodeRole {
			left = append(left, "role "+name)
		} else if len(r.Attached) > 0 {
			left = append(left, fmt.Sprintf("node role policies %v", r.Attached))
		}
	}
	if _, ok := a.Roles[wtNodeRole]; !ok {
		w.t.Fatal("the node role is gone or moto does not answer") // an empty account proves nothing then
	}
	for name := range a.Users {
		left = append(left, "user "+name)
	}
	for arn := range a.Policies {
		left = append(left, "policy "+arn)
	}
	for name := range a.Buckets {
		left = append(left, "bucket "+name)
	}
	for name := range a.Repositories {
		left = append(left, "repository "+name)
	}
	for _, as := range w.state().Associations {
		left = append(left, fmt.Sprintf("association %v", as["associationId"]))
	}
	slices.Sort(left)
	return left
}

// mutating reports the calls of a run that create, change or delete
// something, leaving out the Job's replacement (by design, every run) and
// the bucket settings put on every run (puts of the same value).
func mutating(calls []call) []string {
	var out []string
	for _, c := range calls {
		if len(c.Args) < 2 {
			continue
		}
		verb := c.Args[1]
		switch c.Tool {
		case "aws":
			if strings.HasPrefix(verb, "create-") || strings.HasPrefix(verb, "delete-") || strings.HasPrefix(verb, "update-") ||
				strings.HasPrefix(verb, "attach-") || strings.HasPrefix(verb, "detach-") || strings.HasPrefix(verb, "modify-") ||
				verb == "put-image" {
				out = append(out, c.String())
			}
		case "kubectl":
			s := c.String()
			if strings.Contains(s, " create ") || (strings.Contains(s, " delete ") && !strings.Contains(s, " delete job uploader")) {
				out = append(out, s)
			}
		case "docker":
			if c.Args[0] == "buildx" {
				out = append(out, c.String())
			}
		}
	}
	return out
}

// waitsAfter checks that each create call is followed, before the next
// create of anything, by a call that waits until the resource is usable.
func waitsAfter(t *testing.T, calls []call) {
	t.Helper()
	want := map[string]string{
		"s3api create-bucket":                 "s3api wait bucket-exists",
		"iam create-policy":                   "iam wait policy-exists",
		"iam create-role":                     "iam wait role-exists",
		"iam create-user":                     "iam wait user-exists",
		"iam create-access-key":               "sts get-caller-identity",
		"eks create-pod-identity-association": "eks describe-pod-identity-association",
	}
	for i, c := range calls {
		if c.Tool != "aws" || len(c.Args) < 2 {
			continue
		}
		w, ok := want[c.Args[0]+" "+c.Args[1]]
		if !ok {
			continue
		}
		found := false
		for _, next := range calls[i+1:] {
			s := strings.Join(next.Args, " ")
			if next.Tool == "aws" && strings.HasPrefix(s, w) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s: no %q after it", c, w)
		}
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// policyDocument is an IAM policy as the aws CLI prints it.
type policyDocument struct {
	Statement []struct {
		Effect    string
		Principal map[string]any
		Action    any
		Resource  any
		Condition map[string]map[string]any
	}
}

func TestWalkthroughAgainstMoto(t *testing.T) {
	w := startWalkthrough(t)
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			w.t = t
			_, calls := w.mustScript("eks-demo.sh", "MODE="+mode)
			waitsAfter(t, calls)
			a := w.account()
			checkCommon(t, w, a)
			checkMode(t, w, a, mode)

			before := w.snapshot()
			out, again := w.mustScript("eks-demo.sh", "MODE="+mode)
			if m := mutating(again); len(m) > 0 {
				t.Errorf("a re-run changed things:\n%s\n%s", strings.Join(m, "\n"), out)
			}
			if after := w.snapshot(); after != before {
				t.Errorf("a re-run changed the account or cluster:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
	t.Run("static keys after the Secret is gone", func(t *testing.T) {
		w.t = t
		seen := map[string]bool{}
		seen[w.account().Users["uploader-demo-static"].Keys[0]] = true
		// Twice: the old code made a second key, then failed on the third
		// with LimitExceeded (moto enforces AccessKeysPerUser: 2).
		for i := range 2 {
			// The namespace (and the Secret) deleted, the user kept.
			kubectl := exec.Command(filepath.Join(w.dir, "bin/kubectl"), "delete", "namespace", "uploader")
			kubectl.Env = w.env
			if out, err := kubectl.CombinedOutput(); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			w.mustScript("eks-demo.sh", "MODE=static-keys")
			keys := w.account().Users["uploader-demo-static"].Keys
			if len(keys) != 1 {
				t.Fatalf("run %d: the user has keys %v, want exactly one", i, keys)
			}
			if seen[keys[0]] {
				t.Errorf("run %d: key %s again, want a new one (the old secret key is lost with the Secret)", i, keys[0])
			}
			seen[keys[0]] = true
			if got := w.state().Namespaces["uploader"].Secrets["uploader-aws-static"]["AWS_ACCESS_KEY_ID"]; got != keys[0] {
				t.Errorf("run %d: the Secret holds key %q, the user has %q", i, got, keys[0])
			}
		}
	})
	// The cluster unreachable (or its credentials expired) and a list call
	// denied: the AWS side is cleaned all the same, the failures and what
	// remains are reported, and the exit status says so.
	t.Run("clean with the cluster unreachable and a list call denied", func(t *testing.T) {
		w.t = t
		if len(w.state().Associations) != 1 {
			t.Fatalf("associations %v before the clean-up, want the demo's", w.state().Associations)
		}
		out, _, err := w.script("eks-clean.sh", "WALKTHROUGH_KUBE_UNREACHABLE=1", "WALKTHROUGH_DENY=list-pod-identity-associations")
		if err == nil {
			t.Errorf("eks-clean.sh exited 0 with the cluster unreachable and a list call denied:\n%s", out)
		}
		for _, want := range []string{
			"failed: kubectl delete namespace uploader",
			"failed: aws eks list-pod-identity-associations",
			"remains: namespace uploader (cannot tell",
			"remains: pod identity associations of uploader/uploader (cannot tell",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		// Everything else on the AWS side is gone; the association remains.
		left := w.remainingAWS()
		if len(left) != 1 || !strings.HasPrefix(left[0], "association ") {
			t.Errorf("after a clean-up with the cluster unreachable: %v remain, want only the association\n%s", left, out)
		}
	})
	t.Run("clean", func(t *testing.T) {
		w.t = t
		out, _ := w.mustScript("eks-clean.sh")
		if left := w.remainingAWS(); len(left) > 0 {
			t.Errorf("after eks-clean.sh: %v remain\n%s", left, out)
		}
		if _, ok := w.state().Namespaces["uploader"]; ok {
			t.Error("the namespace remains")
		}
		if !strings.Contains(out, "nothing of the demo remains") {
			t.Errorf("the clean-up did not report success:\n%s", out)
		}
		// Again: nothing to do, nothing fails.
		out, calls := w.mustScript("eks-clean.sh")
		if m := mutating(calls); len(m) > 1 { // the namespace delete is always tried
			t.Errorf("a second clean-up changed things: %v\n%s", m, out)
		}
	})
}

// checkCommon checks what every mode creates: bucket, policy, ECR
// repository and image, and the kustomization that deploys it by digest.
func checkCommon(t *testing.T, w *walkthrough, a account) {
	t.Helper()
	b, ok := a.Buckets[wtBucket]
	if !ok {
		t.Fatalf("no bucket %s", wtBucket)
	}
	if !slices.ContainsFunc(b.Tags, func(tag map[string]string) bool {
		return tag["Key"] == "eks-least-privilege" && tag["Value"] == "uploader-demo"
	}) {
		t.Errorf("bucket tags %v, want eks-least-privilege=uploader-demo", b.Tags)
	}
	for _, k := range []string{"BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"} {
		if !b.PublicAccessBlock[k] {
			t.Errorf("public access block %s is off", k)
		}
	}
	if len(b.Lifecycle) == 0 || b.Lifecycle[0]["AbortIncompleteMultipartUpload"] == nil {
		t.Errorf("lifecycle %v: no rule aborts incomplete multipart uploads", b.Lifecycle)
	}
	doc, _ := json.Marshal(a.Policies[wtPolicy].Document)
	if !strings.Contains(string(doc), `"arn:aws:s3:::`+wtBucket+`/uploads/*"`) || !strings.Contains(string(doc), "s3:PutObject") {
		t.Errorf("policy document %s, want s3:PutObject on the demo bucket's uploads/", doc)
	}

	r, ok := a.Repositories[wtRepo]
	if !ok {
		t.Fatalf("no ECR repository %s", wtRepo)
	}
	if r.Mutability != "IMMUTABLE" || !r.ScanOnPush {
		t.Errorf("repository: tags %s, scan on push %v; want IMMUTABLE and true", r.Mutability, r.ScanOnPush)
	}
	if len(r.Tags) != 1 || r.Tags[0]["Key"] != "eks-least-privilege" || r.Tags[0]["Value"] != "uploader-demo" {
		t.Errorf("repository tags %v, want eks-least-privilege=uploader-demo", r.Tags)
	}
	if len(r.Images) != 1 {
		t.Fatalf("%d images in the repository, want 1 (one build for every mode and run)", len(r.Images))
	}
	// Built for both node groups' architectures (one arm64, one amd64).
	var arches []string
	for _, m := range r.Images[0].Manifest.Manifests {
		arches = append(arches, m.Platform.Architecture)
	}
	if slices.Sort(arches); !reflect.DeepEqual(arches, []string{"amd64", "arm64"}) {
		t.Errorf("image platforms %v, want amd64 and arm64", arches)
	}
	kust := w.state().Namespaces["uploader"].Jobs["uploader"]["kustomization"]
	if !strings.Contains(kust, "newName: "+r.URI+"\n") || !strings.Contains(kust, "digest: "+r.Images[0].Digest+"\n") {
		t.Errorf("the Job's kustomization does not deploy %s@%s:\n%s", r.URI, r.Images[0].Digest, kust)
	}
	if !strings.Contains(kust, "AWS_REGION="+wtRegion) || !strings.Contains(kust, "S3_BUCKET_NAME="+wtBucket) {
		t.Errorf("the kustomization lacks the region or bucket:\n%s", kust)
	}
}

// checkMode checks what one mode creates.
func checkMode(t *testing.T, w *walkthrough, a account, mode string) {
	t.Helper()
	attached := func(list []string) bool { return reflect.DeepEqual(list, []string{wtPolicy}) }
	switch mode {
	case "static-keys":
		u := a.Users["uploader-demo-static"]
		if !attached(u.Attached) {
			t.Errorf("user policies %v, want the put-only policy", u.Attached)
		}
		secret := w.state().Namespaces["uploader"].Secrets["uploader-aws-static"]
		if len(u.Keys) != 1 || secret["AWS_ACCESS_KEY_ID"] != u.Keys[0] || secret["AWS_SECRET_ACCESS_KEY"] == "" {
			t.Errorf("user keys %v, Secret key %q: want one key, in the Secret with its secret", u.Keys, secret["AWS_ACCESS_KEY_ID"])
		}
	case "node-role":
		if got := a.Roles[wtNodeRole].Attached; !attached(got) {
			t.Errorf("node role policies %v, want the put-only policy", got)
		}
		for _, o := range a.Instances {
			if o["HttpTokens"] != "required" || o["HttpPutResponseHopLimit"] != float64(2) || o["HttpEndpoint"] != "enabled" {
				t.Errorf("instance metadata options %v, want IMDSv2 only with hop limit 2", o)
			}
		}
	case "irsa":
		role := a.Roles["uploader-demo-irsa"]
		if !attached(role.Attached) {
			t.Errorf("IRSA role policies %v, want the put-only policy", role.Attached)
		}
		// moto never evaluates this: check the document itself.
		issuer := strings.TrimPrefix(w.aws("eks", "describe-cluster", "--name", wtCluster, "--query", "cluster.identity.oidc.issuer", "--output", "text"), "https://")
		s := role.Trust.Statement[0]
		if s.Principal["Federated"] != "arn:aws:iam::123456789012:oidc-provider/"+issuer || s.Action != "sts:AssumeRoleWithWebIdentity" ||
			s.Condition["StringEquals"][issuer+":sub"] != "system:serviceaccount:uploader:uploader" ||
			s.Condition["StringEquals"][issuer+":aud"] != "sts.amazonaws.com" {
			t.Errorf("IRSA trust policy %+v, want the cluster's OIDC provider, uploader/uploader, audience sts.amazonaws.com", s)
		}
		if !strings.Contains(w.state().Namespaces["uploader"].Jobs["uploader"]["kustomization"], "value: arn:aws:iam::123456789012:role/uploader-demo-irsa") {
			t.Error("the ServiceAccount is not annotated with the IRSA role")
		}
	case "pod-identity":
		role := a.Roles["uploader-demo-pod-identity"]
		if !attached(role.Attached) {
			t.Errorf("Pod Identity role policies %v, want the put-only policy", role.Attached)
		}
		if s := role.Trust.Statement[0]; s.Principal["Service"] != "pods.eks.amazonaws.com" {
			t.Errorf("Pod Identity trust principal %v, want pods.eks.amazonaws.com", s.Principal)
		}
		as := w.state().Associations
		if len(as) != 1 || as[0]["roleArn"] != "arn:aws:iam::123456789012:role/uploader-demo-pod-identity" ||
			as[0]["namespace"] != "uploader" || as[0]["serviceAccount"] != "uploader" {
			t.Errorf("associations %v, want one: uploader/uploader to the demo role", as)
		}
	}
}
