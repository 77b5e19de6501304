package diagnose

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/smithy-go"
	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/failure"
	"github.com/eks-least-privilege/uploader/internal/token"
)

// expect is what a token must say for this pod.
type expect struct {
	Var      string // the variable naming the token file, for messages
	Audience string // token.AudienceSTS or token.AudiencePodIdentity
	// Namespace and ServiceAccount of this pod, from the downward API; the
	// sub is not checked when either is empty.
	Namespace, ServiceAccount string
}

// expectFor returns what the token in the file named by key must say, with
// the pod's namespace and service account from env (creds.EnvPodNamespace,
// creds.EnvPodServiceAccount).
func expectFor(env Env, key string) expect {
	aud := token.AudienceSTS
	if key == creds.EnvContainerTokenFile {
		aud = token.AudiencePodIdentity
	}
	return expect{Var: key, Audience: aud, Namespace: env(creds.EnvPodNamespace), ServiceAccount: env(creds.EnvPodServiceAccount)}
}

// tokenClaims diagnoses a token's claims against what this pod needs: the
// audience of its mode, an exp in the future, and the sub of this pod's
// service account (when the downward API gave it).
func tokenClaims(c token.Claims, want expect, now time.Time) []Diagnosis {
	var out []Diagnosis
	if want.Audience != "" && !slices.Contains(c.Audience, want.Audience) {
		fix := "IRSA tokens need aud sts.amazonaws.com: the pod identity webhook's default, changed by the service account's eks.amazonaws.com/audience annotation; " +
			"the trust policy's ISSUER:aud condition must name the same audience"
		if want.Audience == token.AudiencePodIdentity {
			fix = "EKS Pod Identity mounts its token with aud pods.eks.amazonaws.com; a token of another audience at that path is not the one EKS mounted: remove the volume or variable that replaces it"
		}
		out = append(out, Diagnosis{
			Name:     TokenAudience,
			Observed: fmt.Sprintf("the token in %s has aud %q, want %q (%s)", want.Var, strings.Join(c.Audience, ","), want.Audience, c),
			Fix:      fix,
		})
	}
	if !c.Expiry.IsZero() && !now.Before(c.Expiry) {
		out = append(out, Diagnosis{
			Name: TokenExpired,
			Observed: fmt.Sprintf("the token in %s expired %s ago, at %s (local clock %s; %s)",
				want.Var, now.Sub(c.Expiry).Round(time.Second), token.Stamp(c.Expiry), token.Stamp(now), c),
			Fix: "the kubelet rewrites a projected token at 80% of its life: an expired one means the file is a copy (a Secret, a file in the image, a hostPath) " +
				"and not the projected volume, or the kubelet cannot refresh it; check too that this node's clock is right (see clock_skew)",
		})
	}
	if want.Namespace != "" && want.ServiceAccount != "" {
		if sub := token.Subject(want.Namespace, want.ServiceAccount); c.Subject != sub {
			out = append(out, Diagnosis{
				Name:     TokenSubject,
				Observed: fmt.Sprintf("the token in %s has sub %q, but this pod runs as %q (%s)", want.Var, c.Subject, sub, c),
				Fix:      "the token is not this pod's: mount the projected token of the pod's own service account; the trust policy's ISSUER:sub condition must name " + sub,
			})
		}
	}
	return out
}

// refusesToken reports whether err is an answer of STS or the Pod Identity
// agent that refuses a token or the role it asks for: a denial, an expired or
// an invalid token, as internal/failure classifies them.
func refusesToken(err error) bool {
	switch failure.Classify(err) {
	case failure.KindDenied, failure.KindExpired, failure.KindInvalidToken:
		return true
	}
	return false
}

// jwtLike matches what could be a JWT quoted in a message.
var jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*)?`)

// rejection diagnoses a credential error in which STS
// (AssumeRoleWithWebIdentity) or the Pod Identity agent refused the token,
// and shows the token's claims next to the error. claims is nil when the
// token could not be read or decoded.
func rejection(err error, want expect, claims *token.Claims) []Diagnosis {
	var api smithy.APIError
	// A server error (5xx) refused nothing: the service failed.
	if err == nil || !errors.As(err, &api) || failure.HTTPStatus(err) >= 500 ||
		!(refusesToken(err) || webIdentityRefusal(err) || (want.Audience == token.AudiencePodIdentity && clientError(err))) {
		return nil
	}
	shown := "token claims unavailable"
	if claims != nil {
		shown = claims.String()
	}
	msg := jwtLike.ReplaceAllString(truncate(api.ErrorMessage(), 300), "[token]")
	if want.Audience == token.AudiencePodIdentity {
		return []Diagnosis{{
			Name:     TokenRejected,
			Observed: fmt.Sprintf("the Pod Identity agent refused the token in %s: %s %q (%s)", want.Var, api.ErrorCode(), msg, shown),
			Fix: "check the Pod Identity association of this namespace and service account (aws eks list-pod-identity-associations) and the role's trust policy: " +
				"principal pods.eks.amazonaws.com with sts:AssumeRole and sts:TagSession (uploader policy prints it)",
		}}
	}
	fix := "the role's trust policy must allow sts:AssumeRoleWithWebIdentity for the Federated principal arn:aws:iam::ACCOUNT:oidc-provider/ISSUER " +
		"with StringEquals on ISSUER:sub and ISSUER:aud matching the claims above (uploader policy prints it)"
	if strings.Contains(msg, "OpenIDConnect provider") {
		fix = "the cluster's OIDC issuer " + issuerOf(claims) + " is not an IAM OIDC provider of this account: create it (eksctl utils associate-iam-oidc-provider --approve, or aws iam create-open-id-connect-provider); " + fix
	}
	return []Diagnosis{{
		Name:     TokenRejected,
		Observed: fmt.Sprintf("sts:AssumeRoleWithWebIdentity refused the token in %s: %s %q (%s)", want.Var, api.ErrorCode(), msg, shown),
		Fix:      fix,
	}}
}

// webIdentityRefusal reports whether err is a client error (HTTP 400-403)
// of sts:AssumeRoleWithWebIdentity: the token or the role refused, whatever
// the code (AWS says InvalidIdentityToken, MinIO InvalidParameterValue).
func webIdentityRefusal(err error) bool {
	var op *smithy.OperationError
	return errors.As(err, &op) && op.ServiceID == "STS" && op.OperationName == "AssumeRoleWithWebIdentity" && clientError(err)
}

// clientError reports whether err carries an HTTP status of 400 to 403: the
// request was refused, not lost.
func clientError(err error) bool {
	code := failure.HTTPStatus(err)
	return code >= 400 && code <= 403
}

func issuerOf(c *token.Claims) string {
	if c == nil || c.Issuer == "" {
		return "(iss)"
	}
	return c.Issuer
}
