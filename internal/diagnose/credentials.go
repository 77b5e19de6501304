package diagnose

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/token"
)

// Inputs are what [Credentials] looks at. Env is required; the zero value
// of every other field is documented.
type Inputs struct {
	Env Env
	// Required is REQUIRE_CREDENTIAL_MODE, parsed. Zero: no requirement.
	Required []creds.Mode
	// Identity and Err are what resolving the credentials returned; the
	// identity carries the mode the SDK tried even when Err is set.
	Identity creds.Identity
	Err      error
	// Process runs as. Zero: token.CurrentProcess().
	Process *token.Process
	// Now is the clock. Zero: time.Now.
	Now func() time.Time
	// IMDSClient asks the instance metadata service when the mode is
	// node-role. Zero: a fresh client; IMDS is not asked when
	// AWS_EC2_METADATA_DISABLED=true.
	IMDSClient *http.Client
}

// Credentials diagnoses the credentials the SDK resolved or failed to
// resolve, at start and in `uploader check`: the token files and their
// claims (next to a refusal by STS or the agent), a missing mutation, a
// source that shadowed another, a silent fall back, the Pod Identity agent,
// and, in node-role mode, a probe of IMDS. Only the node-role probe makes a
// request (two, of 1s at most each).
func Credentials(ctx context.Context, in Inputs) List {
	now := time.Now
	if in.Now != nil {
		now = in.Now
	}
	proc := token.CurrentProcess()
	if in.Process != nil {
		proc = *in.Process
	}
	env, id := in.Env, in.Identity
	var out List
	// A required mode the SDK did resolve (IRSA from a profile's
	// web_identity_token_file, then a role chain) needs no mutation.
	if in.Err != nil || !slices.Contains(in.Required, id.Mode) {
		out = append(out, mutation(env, in.Required)...)
	}
	for _, key := range []string{creds.EnvWebIdentityTokenFile, creds.EnvContainerTokenFile} {
		s := token.Observe(env(key))
		if s.Path == "" {
			continue
		}
		if ds := tokenFile(key, s, proc); len(ds) > 0 {
			out = append(out, ds...)
			continue
		}
		want := expectFor(env, key)
		claims, err := token.Read(s.Path)
		if err == nil {
			out = append(out, tokenClaims(claims, want, now())...)
		}
		// The refusal belongs to the token of the mode that was tried.
		if in.Err != nil && usesToken(id.Mode, key) {
			var c *token.Claims
			if err == nil {
				c = &claims
			}
			out = append(out, rejection(in.Err, want, c)...)
		}
	}
	if in.Err == nil {
		out = append(out, shadowed(env, id.Mode, id.Source)...)
		out = append(out, fallback(env, in.Required, id)...)
	} else {
		out = append(out, podIdentityAgent(in.Err, id.Mode, env)...)
		out = append(out, clock(in.Err, time.Time{}, now())...)
		out = append(out, unreachableCredentials(in.Err, id.Mode, env)...)
	}
	if id.Mode == creds.ModeNodeRole {
		if endpoint, ok := imdsEndpoint(env); ok {
			out = append(out, imdsDiagnoses(probeIMDS(ctx, in.IMDSClient, endpoint))...)
		} else if in.Err != nil {
			out = append(out, imdsFromError(in.Err)...)
		}
	}
	return dedupe(out)
}

func usesToken(m creds.Mode, key string) bool {
	return (m == creds.ModeIRSA && key == creds.EnvWebIdentityTokenFile) || (m == creds.ModePodIdentity && key == creds.EnvContainerTokenFile)
}

// dedupe drops repeated diagnoses (same name and observation).
func dedupe(l List) List {
	var out List
	for _, d := range l {
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}
