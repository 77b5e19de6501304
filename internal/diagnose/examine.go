package diagnose

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/issuer"
	"github.com/eks-least-privilege/uploader/internal/policy"
	"github.com/eks-least-privilege/uploader/internal/token"
)

// Examiner checks a token against the keys of its issuer; an
// *issuer.Client is one.
type Examiner interface {
	Examine(ctx context.Context, token []byte, iss string) issuer.Report
}

// TokenExamination is what `uploader check` shows of one projected token:
// its claims, its issuer and signature, and what they diagnose. It holds
// neither the token nor its signature.
type TokenExamination struct {
	Var, Path string     // the variable naming the token file, and its value
	Mode      creds.Mode // irsa or pod-identity
	// Err is why the token could not be read or decoded; nothing below is
	// filled then.
	Err    error
	Claims token.Claims
	Issuer issuer.Report
	// Endpoint is the Pod Identity agent's endpoint
	// (AWS_CONTAINER_CREDENTIALS_FULL_URI); empty for IRSA.
	Endpoint string
	// RoleProvider is the IAM OIDC provider the role trusts (host and
	// path), when known: STS gave credentials for this token, so the role
	// trusts its issuer. Empty otherwise: a least-privileged role cannot read
	// its own trust policy.
	RoleProvider string
	// Account is AWS_ROLE_ARN's account, to name the provider the role must
	// trust; empty when unknown.
	Account   string
	Diagnoses List
}

// ExamineTokens examines each projected token env names
// (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE):
// reads it (bounded), decodes its claims, checks its signature with ex, and
// diagnoses token_signature_invalid and issuer_mismatch. resolved is the
// mode whose credentials the SDK resolved (empty when it failed): irsa
// means STS accepted the token, so the role trusts its issuer. An
// unreachable issuer is shown, not diagnosed. It is for `uploader check`:
// the daemon never calls it, so an issuer that cannot be reached never
// blocks uploads.
func ExamineTokens(ctx context.Context, env Env, ex Examiner, resolved creds.Mode) []TokenExamination {
	var out []TokenExamination
	for _, key := range []string{creds.EnvWebIdentityTokenFile, creds.EnvContainerTokenFile} {
		path := env(key)
		if path == "" {
			continue
		}
		e := TokenExamination{Var: key, Path: path, Mode: creds.ModeIRSA}
		if key == creds.EnvContainerTokenFile {
			e.Mode, e.Endpoint = creds.ModePodIdentity, env(creds.EnvContainerFullURI)
		} else if r, err := arn.Parse(env(creds.EnvRoleARN)); err == nil {
			e.Account = r.AccountID
		}
		data, err := token.ReadFile(path)
		if err == nil {
			e.Claims, err = token.Decode(data)
		}
		if err != nil {
			e.Err = err
			out = append(out, e)
			continue
		}
		if key == creds.EnvWebIdentityTokenFile && resolved == creds.ModeIRSA && e.Claims.Issuer != "" {
			e.RoleProvider = policy.OIDCProvider(e.Claims.Issuer)
		}
		e.Issuer = ex.Examine(ctx, data, e.Claims.Issuer)
		e.Diagnoses = append(Signature(e.Issuer, key), IssuerAgreement(e.Issuer, e.RoleProvider)...)
		out = append(out, e)
	}
	return out
}

// WriteText writes the examination for `uploader check`: the claims as a
// person reads them (times with the time left), the token's kid and
// algorithm, the issuer section and the OIDC provider the role must trust,
// then its diagnoses.
func (e TokenExamination) WriteText(w io.Writer, now time.Time) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "token:\t%s=%s (%s)\n", e.Var, e.Path, e.Mode)
	row := func(name, value string) { fmt.Fprintf(tw, "  %s:\t%s\n", name, value) }
	if e.Err != nil {
		row("unreadable", jwtLike.ReplaceAllString(e.Err.Error(), "[token]"))
		return tw.Flush()
	}
	for _, r := range e.Claims.Rows(now) {
		row(r[0], r[1])
	}
	row("key", fmt.Sprintf("kid %s, alg %s", dash(e.Issuer.KeyID), dash(e.Issuer.Algorithm)))
	if e.Mode == creds.ModePodIdentity {
		row("agent endpoint", dash(e.Endpoint))
	}
	fmt.Fprintf(tw, "issuer:\t%s\n", dash(e.Claims.Issuer))
	for _, r := range e.Issuer.Rows() {
		row(r[0], r[1])
	}
	if e.Mode == creds.ModeIRSA && strings.HasPrefix(e.Claims.Issuer, "https://") {
		account := e.Account
		if account == "" {
			account = "ACCOUNT"
		}
		trusted := "not known: STS gave no credentials for this token, and a least-privileged role cannot read its own trust policy"
		if e.RoleProvider != "" {
			trusted = e.RoleProvider + " (STS gave credentials for this token and AWS_ROLE_ARN)"
		}
		row("role must trust", fmt.Sprintf("arn:aws:iam::%s:oidc-provider/%s (uploader policy trust)", account, policy.OIDCProvider(e.Claims.Issuer)))
		row("role trusts", trusted)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return e.Diagnoses.WriteText(w)
}
