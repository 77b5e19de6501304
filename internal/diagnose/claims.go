package diagnose

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/smithy-go"
	"github.com/eks-least-privilege/uploader/internal/failure"
)

// Audiences the projected tokens must carry.
const (
	AudienceSTS         = "sts.amazonaws.com"      // IRSA
	AudiencePodIdentity = "pods.eks.amazonaws.com" // EKS Pod Identity
)

// Claims are the claims of a projected service-account token that tell why
// STS or the agent refuses it. They are read without verifying the token.
type Claims struct {
	Issuer   string
	Subject  string
	Audience []string
	Expiry   time.Time // zero when absent
	IssuedAt time.Time // zero when absent
	// Namespace and ServiceAccount are from the kubernetes.io claim, when
	// present.
	Namespace, ServiceAccount string
}

// ErrNotJWT is returned by DecodeClaims for data that is not a JWS compact
// serialisation with a JSON payload. Its text never quotes the data.
var ErrNotJWT = errors.New("not a JWT")

// DecodeClaims decodes the payload of a JWT without verifying it. The
// signature is not looked at, and no error quotes the token.
func DecodeClaims(token []byte) (Claims, error) {
	parts := bytes.Split(bytes.TrimSpace(token), []byte("."))
	if len(parts) != 3 {
		return Claims{}, fmt.Errorf("decode token claims: %w: %d dot-separated parts, want 3", ErrNotJWT, len(parts))
	}
	payload := make([]byte, base64.RawURLEncoding.DecodedLen(len(parts[1])))
	n, err := base64.RawURLEncoding.Decode(payload, bytes.TrimRight(parts[1], "="))
	if err != nil {
		return Claims{}, fmt.Errorf("decode token claims: %w: payload is not base64url", ErrNotJWT)
	}
	var raw struct {
		Iss        string          `json:"iss"`
		Sub        string          `json:"sub"`
		Aud        json.RawMessage `json:"aud"`
		Exp        *json.Number    `json:"exp"`
		Iat        *json.Number    `json:"iat"`
		Kubernetes struct {
			Namespace      string `json:"namespace"`
			ServiceAccount struct {
				Name string `json:"name"`
			} `json:"serviceaccount"`
		} `json:"kubernetes.io"`
	}
	if err := json.Unmarshal(payload[:n], &raw); err != nil {
		return Claims{}, fmt.Errorf("decode token claims: %w: payload is not a JSON object", ErrNotJWT)
	}
	c := Claims{Issuer: raw.Iss, Subject: raw.Sub, Namespace: raw.Kubernetes.Namespace, ServiceAccount: raw.Kubernetes.ServiceAccount.Name}
	// aud is a string or an array of strings (RFC 7519 4.1.3).
	var one string
	if err := json.Unmarshal(raw.Aud, &one); err == nil {
		c.Audience = []string{one}
	} else if len(raw.Aud) > 0 {
		if err := json.Unmarshal(raw.Aud, &c.Audience); err != nil {
			return Claims{}, fmt.Errorf("decode token claims: %w: aud is neither a string nor an array of strings", ErrNotJWT)
		}
	}
	c.Expiry, c.IssuedAt = numericDate(raw.Exp), numericDate(raw.Iat)
	return c, nil
}

func numericDate(n *json.Number) time.Time {
	if n == nil {
		return time.Time{}
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}
	}
	return time.Unix(int64(f), 0).UTC()
}

// String returns the claims on one line: iss, aud, sub, exp, iat.
func (c Claims) String() string {
	return fmt.Sprintf("iss=%s aud=%s sub=%s exp=%s iat=%s",
		c.Issuer, strings.Join(c.Audience, ","), c.Subject, stamp(c.Expiry), stamp(c.IssuedAt))
}

// LogValue implements slog.LogValuer: iss, aud, sub, exp and iat.
func (c Claims) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("iss", c.Issuer),
		slog.Any("aud", c.Audience),
		slog.String("sub", c.Subject),
		slog.String("exp", stamp(c.Expiry)),
		slog.String("iat", stamp(c.IssuedAt)),
	)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.UTC().Format(time.RFC3339)
}

// Expect is what a token must say for this pod.
type Expect struct {
	Var      string // the variable naming the token file, for messages
	Audience string // AudienceSTS or AudiencePodIdentity
	// Namespace and ServiceAccount of this pod, from the downward API; the
	// sub is not checked when either is empty.
	Namespace, ServiceAccount string
}

// ExpectFor returns what the token in the file named by key must say, with
// the pod's namespace and service account from env (EnvPodNamespace,
// EnvPodServiceAccount).
func ExpectFor(env Env, key string) Expect {
	aud := AudienceSTS
	if key == EnvContainerTokenFile {
		aud = AudiencePodIdentity
	}
	return Expect{Var: key, Audience: aud, Namespace: env(EnvPodNamespace), ServiceAccount: env(EnvPodServiceAccount)}
}

// Subject is the sub a token for namespace/serviceAccount carries.
func Subject(namespace, serviceAccount string) string {
	return "system:serviceaccount:" + namespace + ":" + serviceAccount
}

// TokenClaims diagnoses a token's claims against what this pod needs: the
// audience of its mode, an exp in the future, and the sub of this pod's
// service account (when the downward API gave it).
func TokenClaims(c Claims, want Expect, now time.Time) []Diagnosis {
	var out []Diagnosis
	if want.Audience != "" && !slices.Contains(c.Audience, want.Audience) {
		fix := "IRSA tokens need aud sts.amazonaws.com: the pod identity webhook's default, changed by the service account's eks.amazonaws.com/audience annotation; " +
			"the trust policy's ISSUER:aud condition must name the same audience"
		if want.Audience == AudiencePodIdentity {
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
				want.Var, now.Sub(c.Expiry).Round(time.Second), stamp(c.Expiry), stamp(now), c),
			Fix: "the kubelet rewrites a projected token at 80% of its life: an expired one means the file is a copy (a Secret, a file in the image, a hostPath) " +
				"and not the projected volume, or the kubelet cannot refresh it; check too that this node's clock is right (see clock_skew)",
		})
	}
	if want.Namespace != "" && want.ServiceAccount != "" {
		if sub := Subject(want.Namespace, want.ServiceAccount); c.Subject != sub {
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

// Rejection diagnoses a credential error in which STS
// (AssumeRoleWithWebIdentity) or the Pod Identity agent refused the token,
// and shows the token's claims next to the error. claims is nil when the
// token could not be read or decoded.
func Rejection(err error, want Expect, claims *Claims) []Diagnosis {
	var api smithy.APIError
	if err == nil || !errors.As(err, &api) ||
		!(refusesToken(err) || webIdentityRefusal(err) || (want.Audience == AudiencePodIdentity && clientError(err))) {
		return nil
	}
	shown := "token claims unavailable"
	if claims != nil {
		shown = claims.String()
	}
	msg := api.ErrorMessage()
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	msg = jwtLike.ReplaceAllString(msg, "[token]")
	if want.Audience == AudiencePodIdentity {
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
	var status interface{ HTTPStatusCode() int }
	if !errors.As(err, &status) {
		return false
	}
	code := status.HTTPStatusCode()
	return code >= 400 && code <= 403
}

func issuerOf(c *Claims) string {
	if c == nil || c.Issuer == "" {
		return "(iss)"
	}
	return c.Issuer
}
