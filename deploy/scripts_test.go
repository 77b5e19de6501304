package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// scripts lists every shell script of the delivery side.
var scripts = []string{"aws/eks-demo.sh", "aws/eks-clean.sh", "aws/lib.sh", "image.sh", "compose/minio-init.sh", "compose/podman-healthchecks.sh",
	"../test/image/run.sh", "../test/image/build.sh", "../test/e2e/compose/run.sh", "../test/e2e/compose/images.sh",
	"../test/e2e/checks-helm.sh", "../test/e2e/helm-plugins/test-layer/layer.sh"}

func TestShellcheck(t *testing.T) {
	path, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("shellcheck is not installed (apt-get install -y shellcheck); in CI this is a failure")
		}
		t.Skip("shellcheck is not installed: apt-get install -y shellcheck")
	}
	for _, s := range scripts {
		t.Run(s, func(t *testing.T) {
			out, err := exec.Command(path, "-x", s).CombinedOutput()
			if err != nil {
				t.Errorf("shellcheck %s: %v\n%s", s, err, out)
			}
		})
	}
}

// runScript runs a deploy/aws script with DRY_RUN=1 and aws, kubectl and
// eksctl on PATH as traps that fail the run if called.
func runScript(t *testing.T, script string, env ...string) string {
	t.Helper()
	bin := t.TempDir()
	for _, tool := range []string{"aws", "kubectl", "eksctl"} {
		trap := "#!/bin/sh\necho \"" + tool + " called under DRY_RUN\" >&2\nexit 97\n"
		if err := os.WriteFile(filepath.Join(bin, tool), []byte(trap), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("bash", script)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "S3_") && !strings.HasPrefix(kv, "PATH=") &&
			!strings.HasPrefix(kv, "MODE=") && !strings.HasPrefix(kv, "DRY_RUN=") && !strings.HasPrefix(kv, "CLUSTER_NAME=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "DRY_RUN=1", "AWS_REGION=eu-west-1")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", script, env, err, out)
	}
	return string(out)
}

func TestEKSDemoDryRun(t *testing.T) {
	common := []string{
		"+ aws sts get-caller-identity",
		"+ aws s3api create-bucket --bucket uploader-demo-111122223333-eu-west-1 --create-bucket-configuration LocationConstraint=eu-west-1",
		"+ aws iam create-policy --policy-name uploader-demo-put-only",
		"+ kubectl apply -k ",
		"+ kubectl -n uploader wait --for=condition=complete job/uploader",
		"+ aws s3 ls s3://uploader-demo-111122223333-eu-west-1/uploads/",
		"+ kubectl -n uploader logs job/uploader",
	}
	perMode := map[string][]string{
		"static-keys": {
			"+ aws iam create-user --user-name uploader-demo-static",
			"+ aws iam create-access-key --user-name uploader-demo-static",
			"+ kubectl -n uploader create secret generic uploader-aws-static --from-env-file=",
		},
		"node-role": {
			"+ aws iam attach-role-policy --role-name eksctl-uploader-demo-nodegroup-NodeInstanceRole",
			"--http-tokens required --http-put-response-hop-limit 2",
		},
		"irsa": {
			"+ aws iam create-role --role-name uploader-demo-irsa",
			"+ aws iam attach-role-policy --role-name uploader-demo-irsa",
		},
		"pod-identity": {
			"+ aws iam create-role --role-name uploader-demo-pod-identity",
			"+ aws eks create-pod-identity-association --cluster-name uploader-demo --namespace uploader --service-account uploader",
		},
	}
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			work := t.TempDir()
			out := runScript(t, "aws/eks-demo.sh", "MODE="+mode, "WORK_DIR="+work)
			for _, want := range append(common, perMode[mode]...) {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "DRYRUNSECRET") {
				t.Error("the dry run printed the (placeholder) secret key")
			}
			// The generated kustomization renders, with the demo's settings.
			m := build(t, filesys.MakeFsOnDisk(), work)
			if len(m.jobs) != 1 || len(m.configMaps) != 1 {
				t.Fatalf("got %d Jobs and %d ConfigMaps, want 1 each", len(m.jobs), len(m.configMaps))
			}
			if got := m.configMaps[0].Data["S3_BUCKET_NAME"]; got != "uploader-demo-111122223333-eu-west-1" {
				t.Errorf("S3_BUCKET_NAME %q, want the demo bucket", got)
			}
			if got, want := m.configMaps[0].Data["REQUIRE_CREDENTIAL_MODE"], reportedMode[mode]; got != want {
				t.Errorf("REQUIRE_CREDENTIAL_MODE %q, want %q", got, want)
			}
			// The demo's bucket is the caller's: every request says so.
			if got := m.configMaps[0].Data["S3_EXPECTED_BUCKET_OWNER"]; got != "111122223333" {
				t.Errorf("S3_EXPECTED_BUCKET_OWNER %q, want the caller's account", got)
			}
			if mode == "irsa" {
				if got := m.serviceAccounts[0].Annotations["eks.amazonaws.com/role-arn"]; got != "arn:aws:iam::111122223333:role/uploader-demo-irsa" {
					t.Errorf("role-arn annotation %q, want the demo role", got)
				}
			}
		})
	}
	t.Run("bad mode", func(t *testing.T) {
		cmd := exec.Command("bash", "aws/eks-demo.sh")
		cmd.Env = append(os.Environ(), "MODE=root-keys", "DRY_RUN=1")
		if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "MODE must be one of") {
			t.Errorf("got %v, %s; want a failure naming the modes", err, out)
		}
	})
}

func TestEKSCleanDryRun(t *testing.T) {
	out := runScript(t, "aws/eks-clean.sh")
	for _, want := range []string{
		"+ kubectl delete namespace uploader",
		"+ aws eks delete-pod-identity-association --cluster-name uploader-demo",
		"+ aws iam detach-role-policy --role-name eksctl-uploader-demo-nodegroup-NodeInstanceRole",
		"+ aws iam delete-role --role-name uploader-demo-irsa",
		"+ aws iam delete-role --role-name uploader-demo-pod-identity",
		"+ aws iam delete-access-key --user-name uploader-demo-static",
		"+ aws iam delete-user --user-name uploader-demo-static",
		"+ aws iam delete-policy --policy-arn arn:aws:iam::111122223333:policy/uploader-demo-put-only",
		"+ aws s3 rb s3://uploader-demo-111122223333-eu-west-1 --force",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
