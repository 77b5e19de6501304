package diagnose

import (
	"context"
	"io"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/eks-least-privilege/uploader/internal/creds"
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
	// Process runs as. Zero: CurrentProcess().
	Process *Process
	// Now is the clock. Zero: time.Now.
	Now func() time.Time
	// IMDSClient asks the instance metadata service when the mode is
	// node-role. Zero: a fresh client; IMDS is not asked when
	// AWS_EC2_METADATA_DISABLED=true.
	IMDSClient *http.Client
}

// maxTokenSize bounds the read of a token file: projected tokens are a
// few KiB.
const maxTokenSize = 64 << 10

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
	proc := CurrentProcess()
	if in.Process != nil {
		proc = *in.Process
	}
	env, id := in.Env, in.Identity
	var out List
	out = append(out, Mutation(env, in.Required)...)
	for _, key := range []string{EnvWebIdentityTokenFile, EnvContainerTokenFile} {
		s := ObserveTokenFile(env, key)
		if s.Path == "" {
			continue
		}
		if ds := TokenFile(s, proc); len(ds) > 0 {
			out = append(out, ds...)
			continue
		}
		want := ExpectFor(env, key)
		claims, err := readClaims(s.Path)
		if err == nil {
			out = append(out, TokenClaims(claims, want, now())...)
		}
		// The refusal belongs to the token of the mode that was tried.
		if in.Err != nil && usesToken(id.Mode, key) {
			var c *Claims
			if err == nil {
				c = &claims
			}
			out = append(out, Rejection(in.Err, want, c)...)
		}
	}
	if in.Err == nil {
		out = append(out, Shadowed(env, id.Mode, id.Source)...)
		out = append(out, Fallback(env, in.Required, id)...)
	} else {
		out = append(out, PodIdentityAgent(in.Err, id.Mode, env)...)
		out = append(out, Clock(in.Err, time.Time{}, now())...)
	}
	if id.Mode == creds.ModeNodeRole {
		if endpoint, ok := IMDSEndpoint(env); ok {
			out = append(out, IMDS(ProbeIMDS(ctx, in.IMDSClient, endpoint))...)
		} else if in.Err != nil {
			out = append(out, IMDSFromError(in.Err)...)
		}
	}
	return dedupe(out)
}

func usesToken(m creds.Mode, key string) bool {
	return (m == creds.ModeIRSA && key == EnvWebIdentityTokenFile) || (m == creds.ModePodIdentity && key == EnvContainerTokenFile)
}

func readClaims(path string) (Claims, error) {
	f, err := os.Open(path)
	if err != nil {
		return Claims{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxTokenSize))
	if err != nil {
		return Claims{}, err
	}
	return DecodeClaims(data)
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
