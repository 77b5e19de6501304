// Package iamsim evaluates IAM policies with an independent simulator,
// @cloud-copilot/iam-simulate (AGPL-3.0), run as a separate Node.js process:
// the policy tests ask it which requests a printed policy allows. The
// simulator and its data are pinned by package-lock.json beside this file;
// scripts/tools.sh installs them into a cache dir keyed by that lock.
package iamsim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/eks-least-privilege/uploader/test/testenv"
)

// The simulator's verdicts.
const (
	Allowed          = "Allowed"
	ImplicitlyDenied = "ImplicitlyDenied"
	ExplicitlyDenied = "ExplicitlyDenied"
)

// Request is one API call to evaluate.
type Request struct {
	Principal       string // the caller's ARN (a role's ARN for a role session)
	Action          string // e.g. s3:PutObject
	Resource        string // the resource's ARN
	ResourceAccount string // the account that owns the resource
	// Context holds the request's condition keys (aws:SecureTransport,
	// kms:ViaService, ...): a string or a list of strings each.
	Context map[string]any
}

// Simulation is a request and the policies that apply to it.
type Simulation struct {
	Request          Request
	IdentityPolicies []json.RawMessage // the caller's
	ResourcePolicy   json.RawMessage   // the bucket's, key's or role's trust policy; nil for none
}

// dir is this package's directory, with package.json and simulate.cjs.
func dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// CacheDir is where scripts/tools.sh installs the pinned simulator:
// $XDG_CACHE_HOME (or ~/.cache)/uploader-tools/iamsim-HASH, HASH the first
// 12 hex digits of package-lock.json's SHA-256.
func CacheDir() (string, error) {
	lock, err := os.ReadFile(filepath.Join(dir(), "package-lock.json"))
	if err != nil {
		return "", err
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		cache = filepath.Join(home, ".cache")
	}
	sum := sha256.Sum256(lock)
	return filepath.Join(cache, "uploader-tools", "iamsim-"+hex.EncodeToString(sum[:])[:12]), nil
}

// Evaluate runs every simulation in one simulator process and returns each
// verdict: Allowed, ImplicitlyDenied or ExplicitlyDenied. A simulation the
// simulator refuses (a malformed policy, an unknown action) fails the test.
// Without node or the installed simulator the test is Unavailable.
func Evaluate(t testing.TB, sims []Simulation) []string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Unavailable(t, "node not found: install Node.js and run scripts/tools.sh for the IAM policy simulator")
	}
	cache, err := CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	modules := filepath.Join(cache, "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "@cloud-copilot", "iam-simulate", "package.json")); err != nil {
		testenv.Unavailable(t, "IAM policy simulator not installed in "+cache+": run scripts/tools.sh")
	}
	in, err := json.Marshal(wire(sims))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir(), "simulate.cjs"))
	cmd.Env = []string{"NODE_PATH=" + modules, "PATH=" + os.Getenv("PATH")}
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("iam-simulate: %v\n%s", err, stderr.String())
	}
	var results []struct {
		Result string
		Errors json.RawMessage
	}
	if err := json.Unmarshal(out, &results); err != nil || len(results) != len(sims) {
		t.Fatalf("iam-simulate: got %d results (%v), want %d:\n%s", len(results), err, len(sims), out)
	}
	verdicts := make([]string, len(results))
	for i, r := range results {
		switch r.Result {
		case Allowed, ImplicitlyDenied, ExplicitlyDenied:
		case "Error":
			t.Fatalf("iam-simulate refused simulation %d (%s %s): %s", i, sims[i].Request.Action, sims[i].Request.Resource, r.Errors)
		default:
			t.Fatalf("iam-simulate: simulation %d: verdict %q, want Allowed, ImplicitlyDenied or ExplicitlyDenied", i, r.Result)
		}
		verdicts[i] = r.Result
	}
	return verdicts
}

// wire is sims in iam-simulate's Simulation shape.
func wire(sims []Simulation) []any {
	type named struct {
		Name   string          `json:"name"`
		Policy json.RawMessage `json:"policy"`
	}
	out := make([]any, len(sims))
	for i, s := range sims {
		ctxVars := s.Request.Context
		if ctxVars == nil {
			ctxVars = map[string]any{}
		}
		identity := []named{}
		for j, p := range s.IdentityPolicies {
			identity = append(identity, named{Name: "identity-" + string(rune('a'+j)), Policy: p})
		}
		sim := map[string]any{
			"request": map[string]any{
				"principal":        s.Request.Principal,
				"action":           s.Request.Action,
				"resource":         map[string]string{"resource": s.Request.Resource, "accountId": s.Request.ResourceAccount},
				"contextVariables": ctxVars,
			},
			"identityPolicies":        identity,
			"serviceControlPolicies":  []any{},
			"resourceControlPolicies": []any{},
		}
		if s.ResourcePolicy != nil {
			sim["resourcePolicy"] = s.ResourcePolicy
		}
		out[i] = sim
	}
	return out
}
