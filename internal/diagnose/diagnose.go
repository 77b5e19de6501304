package diagnose

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
)

// Name is the stable name of a diagnosis.
type Name string

// The diagnoses. Each value is the label of uploader_diagnosis_info and the
// name docs/troubleshooting.md uses.
const (
	// TokenFileMissing: a token file variable names a path that does not
	// exist: the projected volume is not mounted.
	TokenFileMissing Name = "token_file_missing"
	// TokenFileUnreadable: the token file exists but this process may not
	// open it (uid and groups against owner, group and mode).
	TokenFileUnreadable Name = "token_file_unreadable"
	// CredentialsShadowed: web-identity or container-credential settings are
	// present but the SDK chose another source.
	CredentialsShadowed Name = "credentials_shadowed"
	// MutationMissing: REQUIRE_CREDENTIAL_MODE names irsa or pod-identity and
	// none of their variables are set.
	MutationMissing Name = "mutation_missing"
	// SilentFallback: the caller is not the configured role, or is the
	// node's instance profile although IRSA or Pod Identity is expected.
	SilentFallback Name = "silent_fallback"
	// TokenAudience: the projected token's aud is not the one its mode needs.
	TokenAudience Name = "token_audience"
	// TokenExpired: the projected token's exp has passed.
	TokenExpired Name = "token_expired"
	// TokenSubject: the projected token's sub is not this pod's service
	// account.
	TokenSubject Name = "token_subject"
	// TokenRejected: STS or the Pod Identity agent refused the token; its
	// claims are shown next to the error.
	TokenRejected Name = "token_rejected"
	// IMDSUnreachable: no instance metadata service answers.
	IMDSUnreachable Name = "imds_unreachable"
	// IMDSHopLimit: IMDS answers, but the IMDSv2 token response never
	// arrives (hop limit 1 in front of a container).
	IMDSHopLimit Name = "imds_hop_limit"
	// IMDSv1Only: IMDS refuses the IMDSv2 token request and serves IMDSv1.
	IMDSv1Only Name = "imds_v1_only"
	// IMDSNoRole: IMDS answers but no instance profile role is attached.
	IMDSNoRole Name = "imds_no_role"
	// PodIdentityAgentUnreachable: the container credentials endpoint
	// refused the connection or did not answer.
	PodIdentityAgentUnreachable Name = "pod_identity_agent_unreachable"
	// ClockSkew: the store said RequestTimeTooSkewed, or its Date is far
	// from the local clock.
	ClockSkew Name = "clock_skew"
	// ChecksumRejected: an S3-compatible store refused the SDK's request
	// checksums or aws-chunked trailers.
	ChecksumRejected Name = "checksum_rejected"
	// TokenSignatureInvalid: the projected token does not verify against the
	// keys its issuer publishes.
	TokenSignatureInvalid Name = "token_signature_invalid"
	// IssuerMismatch: the token's iss, its issuer's discovery document and
	// the OIDC provider the role trusts do not name the same issuer.
	IssuerMismatch Name = "issuer_mismatch"
	// CredentialsRefreshFailing: refreshing the credentials failed while the
	// current ones still work.
	CredentialsRefreshFailing Name = "credentials_refresh_failing"
	// KMSAccessDenied: an SSE-KMS write refused for its key: a kms:
	// permission denied, or a key S3 cannot use.
	KMSAccessDenied Name = "kms_access_denied"
	// EncryptionRequired: a write without (or with another) encryption
	// explicitly denied.
	EncryptionRequired Name = "encryption_required"
	// BucketPolicyDenied: an explicit deny in the bucket policy.
	BucketPolicyDenied Name = "bucket_policy_denied"
	// BucketOwnerMismatch: a 403 while S3_EXPECTED_BUCKET_OWNER is set.
	BucketOwnerMismatch Name = "bucket_owner_mismatch"
	// STSUnreachable: STS got no answer (refused, timeout, DNS).
	STSUnreachable Name = "sts_unreachable"
	// S3Unreachable: S3 got no answer (refused, timeout, DNS).
	S3Unreachable Name = "s3_unreachable"
)

// Names lists every diagnosis, to initialise uploader_diagnosis_info to 0.
var Names = []Name{
	TokenFileMissing, TokenFileUnreadable, CredentialsShadowed, MutationMissing, SilentFallback,
	TokenAudience, TokenExpired, TokenSubject, TokenRejected, TokenSignatureInvalid, IssuerMismatch,
	IMDSUnreachable, IMDSHopLimit, IMDSv1Only, IMDSNoRole, PodIdentityAgentUnreachable,
	ClockSkew, ChecksumRejected, CredentialsRefreshFailing,
	KMSAccessDenied, EncryptionRequired, BucketPolicyDenied, BucketOwnerMismatch, STSUnreachable, S3Unreachable,
}

// Diagnosis is one named problem: what was observed and how to fix it. It
// holds no secret.
type Diagnosis struct {
	Name     Name
	Observed string // what was seen, with the values that tell (paths, ids, claims, codes)
	Fix      string // what to change
}

// String returns "name: observed; fix: fix".
func (d Diagnosis) String() string {
	return string(d.Name) + ": " + d.Observed + "; fix: " + d.Fix
}

// LogValue implements slog.LogValuer: name, observed and fix.
func (d Diagnosis) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("name", string(d.Name)),
		slog.String("observed", d.Observed),
		slog.String("fix", d.Fix),
	)
}

// List is a set of diagnoses, in the order they were found.
type List []Diagnosis

// Has reports whether the list holds a diagnosis named n.
func (l List) Has(n Name) bool {
	return slices.ContainsFunc(l, func(d Diagnosis) bool { return d.Name == n })
}

// Names returns the names in the list, each once, for a log attribute.
func (l List) Names() []string {
	var names []string
	for _, d := range l {
		if !slices.Contains(names, string(d.Name)) {
			names = append(names, string(d.Name))
		}
	}
	return names
}

// LogValue implements slog.LogValuer: one group per diagnosis, keyed by its
// name.
func (l List) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, len(l))
	for _, d := range l {
		attrs = append(attrs, slog.Group(string(d.Name), "observed", d.Observed, "fix", d.Fix))
	}
	return slog.GroupValue(attrs...)
}

// String returns one diagnosis per line.
func (l List) String() string {
	s := make([]string, len(l))
	for i, d := range l {
		s[i] = d.String()
	}
	return strings.Join(s, "\n")
}

// Env looks up an environment variable; os.Getenv is one. An empty value is
// the same as an unset one, as for the SDK.
type Env func(key string) string

// set returns the names among keys that have a value in env.
func set(env Env, keys ...string) []string {
	var out []string
	for _, k := range keys {
		if env(k) != "" {
			out = append(out, k)
		}
	}
	return out
}

// WriteText writes each diagnosis as two lines, for `uploader check`:
// "diagnosis NAME: OBSERVED" and "  fix: FIX".
func (l List) WriteText(w io.Writer) error {
	for _, d := range l {
		if _, err := fmt.Fprintf(w, "diagnosis %s: %s\n  fix: %s\n", d.Name, d.Observed, d.Fix); err != nil {
			return err
		}
	}
	return nil
}
