package creds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/eks-least-privilege/uploader/internal/failure"
)

// Identity describes the AWS identity the workload runs as. It holds no secret:
// the access key id is masked, and the secret key and session token are never
// copied in.
type Identity struct {
	Mode        Mode   // how the credentials were obtained
	Source      string // aws.Credentials.Source, e.g. "WebIdentityCredentials"
	AccessKeyID string // masked: "AKIA…MPLE", or "****" and the last 4 for short ids
	RoleARN     string // the IAM role, where known: the final one of a chain, AWS_ROLE_ARN for irsa, else from the caller ARN
	// SourceRoleARN is the first hop's role when RoleARN was assumed with
	// its credentials (a profile's role_arn with source_profile: IRSA, then
	// sts:AssumeRole); Mode is that first hop's. Empty for a single hop, and
	// for an EKS Pod Identity target role, whose first hop EKS makes outside
	// the pod.
	SourceRoleARN string
	// ExternalID reports that the last hop's sts:AssumeRole sends an
	// external id; its value is never copied in.
	ExternalID bool
	CallerARN  string // sts:GetCallerIdentity Arn
	Account    string // sts:GetCallerIdentity Account, or the account the provider reported
	// CallerUnavailable is "unavailable: <short reason>" when
	// sts:GetCallerIdentity failed, followed by why when the endpoint does not
	// implement it (S3-compatible stores such as MinIO do not),
	// CallerNotLookedUp when it was not asked, empty otherwise.
	CallerUnavailable string
	Expires           time.Time // when the credentials expire (after the SDK's expiry window), if CanExpire
	CanExpire         bool      // the credentials are temporary

	// unusedRoleARN is AWS_PROFILE's role_arn when the SDK took credentials
	// from elsewhere first: a warning.
	unusedRoleARN string
}

// callerTimeout bounds sts:GetCallerIdentity, which is only informative.
const callerTimeout = 5 * time.Second

// Resolve retrieves credentials through cfg.Credentials — the SDK's cache, so
// refresh keeps working for every client built from cfg — and describes them.
// The caller identity is asked of STS built from the same cfg (so
// AWS_ENDPOINT_URL_STS applies) with a short timeout, best effort: a failure is
// recorded in CallerUnavailable, not returned. A retrieval failure returns an
// *[Error] with the mode the SDK was trying; the Identity then still carries
// that mode.
func Resolve(ctx context.Context, cfg aws.Config) (Identity, error) {
	id, _, err := retrieve(ctx, cfg)
	if err != nil {
		return id, err
	}
	lookupCaller(ctx, newCallerClient(cfg), &id)
	return id, nil
}

// retrieve gets credentials from cfg.Credentials and describes them, and the
// role chain they come through, without the caller identity. It returns a
// hash-ready access key id for change detection; the raw id never leaves this
// package.
func retrieve(ctx context.Context, cfg aws.Config) (Identity, string, error) {
	p := cfg.Credentials
	if p == nil {
		return Identity{Mode: ModeUnknown}, "", &Error{Mode: ModeUnknown, Reason: ReasonNotFound,
			Err: errors.New("no credentials provider configured")}
	}
	c, err := p.Retrieve(ctx)
	id := Identity{Mode: Detect(p, c.Source), Source: c.Source}
	if err != nil {
		return id, "", &Error{Mode: id.Mode, Source: c.Source, Reason: classify(err), Err: err}
	}
	if !c.HasKeys() {
		// aws.AnonymousCredentials and the like: nothing to sign with.
		return id, "", &Error{Mode: id.Mode, Source: c.Source, Reason: ReasonNotFound,
			Err: errors.New("provider returned no access key")}
	}
	id.AccessKeyID = MaskKeyID(c.AccessKeyID)
	id.Account = c.AccountID
	id.CanExpire = c.CanExpire
	if c.CanExpire {
		id.Expires = c.Expires
	}
	if id.Mode == ModeIRSA {
		id.RoleARN = os.Getenv(EnvRoleARN)
	}
	describeChain(cfg, &id)
	return id, c.AccessKeyID, nil
}

// newCallerClient returns the STS client that asks for the caller identity:
// one attempt, since the answer is only informative. It is nil when the
// lookup would reach public STS for a custom S3 endpoint (caller.go).
func newCallerClient(cfg aws.Config) *sts.Client {
	if !callerLookupAllowed(cfg) {
		return nil
	}
	return sts.NewFromConfig(cfg, func(o *sts.Options) { o.RetryMaxAttempts = 1 })
}

// lookupCaller fills the caller fields of id from sts:GetCallerIdentity, or
// says why it was not asked (a nil client: CallerNotLookedUp).
func lookupCaller(ctx context.Context, client *sts.Client, id *Identity) {
	if client == nil {
		id.CallerUnavailable = CallerNotLookedUp
		return
	}
	ctx, cancel := context.WithTimeout(ctx, callerTimeout)
	defer cancel()
	out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		id.CallerUnavailable = "unavailable: " + shortReason(err)
		if callerLookupNotImplemented(err) {
			id.CallerUnavailable += ": " + callerNotImplemented
		}
		return
	}
	id.CallerARN = aws.ToString(out.Arn)
	if a := aws.ToString(out.Account); a != "" {
		id.Account = a
	}
	if id.RoleARN == "" {
		id.RoleARN = RoleARN(id.CallerARN)
	}
}

// shortReason is a one-phrase account of a failed STS call: an error code or
// an HTTP status, never a response body.
func shortReason(err error) string {
	var api smithy.APIError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, &api) && api.ErrorCode() != "":
		if status := failure.HTTPStatus(err); status != 0 {
			return fmt.Sprintf("%s (http %d)", api.ErrorCode(), status)
		}
		return api.ErrorCode()
	case failure.HTTPStatus(err) != 0: // 0: no response at all
		return fmt.Sprintf("http %d", failure.HTTPStatus(err))
	}
	return strings.ReplaceAll(classify(err), "_", " ")
}

// RoleARN returns the IAM role ARN behind an STS assumed-role ARN
// (arn:aws:sts::111122223333:assumed-role/name/session becomes
// arn:aws:iam::111122223333:role/name), or "" for any other ARN. A role path
// is not part of an assumed-role ARN, so it is lost.
func RoleARN(callerARN string) string {
	a, err := arn.Parse(callerARN)
	if err != nil || a.Service != "sts" {
		return ""
	}
	rest, ok := strings.CutPrefix(a.Resource, "assumed-role/")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "/")
	if name == "" {
		return ""
	}
	return arn.ARN{Partition: a.Partition, Service: "iam", AccountID: a.AccountID, Resource: "role/" + name}.String()
}

// MaskKeyID masks an access key id for logs: the first 4 and last 4
// characters of a long id ("AKIA…MPLE"), "****" and the last 4 of a shorter
// one, "****" when there are 8 characters or fewer.
func MaskKeyID(id string) string {
	switch {
	case id == "":
		return ""
	case len(id) >= 16:
		return id[:4] + "…" + id[len(id)-4:]
	case len(id) > 8:
		return "****" + id[len(id)-4:]
	}
	return "****"
}

// LogValue implements slog.LogValuer: mode, source, masked access key id,
// role and caller ARN, account, expiry, and why the caller is unknown. Never
// key material.
func (id Identity) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("mode", string(id.Mode)),
		slog.String("source", id.Source),
		slog.String("access_key_id", id.AccessKeyID),
		slog.String("role_arn", id.RoleARN),
	}
	if id.SourceRoleARN != "" {
		attrs = append(attrs, slog.String("source_role_arn", id.SourceRoleARN))
	}
	if id.ExternalID {
		attrs = append(attrs, slog.String("external_id", "set"))
	}
	attrs = append(attrs,
		slog.String("caller_arn", id.CallerARN),
		slog.String("account", id.Account),
	)
	if id.CanExpire {
		attrs = append(attrs, slog.Time("expires", id.Expires))
	}
	if id.CallerUnavailable != "" {
		attrs = append(attrs, slog.String("caller", id.CallerUnavailable))
	}
	return slog.GroupValue(attrs...)
}

// Warnings returns the weaknesses of the identity's mode, for logs and
// `uploader check`: long-lived keys, a role shared by every pod on the node,
// or a source this package cannot place.
func (id Identity) Warnings() []string {
	if id.unusedRoleARN != "" {
		return append(id.modeWarnings(), fmt.Sprintf("the profile's role_arn %s is not assumed: the SDK took credentials "+
			"from the environment first (AWS_ACCESS_KEY_ID or AWS_WEB_IDENTITY_TOKEN_FILE win over AWS_PROFILE); "+
			"unset them in the container, or write the first hop in the profile too", id.unusedRoleARN))
	}
	return id.modeWarnings()
}

func (id Identity) modeWarnings() []string {
	switch id.Mode {
	case ModeStatic:
		return []string{"static access keys: a long-lived secret in the pod spec or environment; prefer IRSA or EKS Pod Identity"}
	case ModeNodeRole:
		return []string{
			"node role: every pod on the node shares these permissions; prefer IRSA or EKS Pod Identity",
			imdsHint,
		}
	case ModeSharedProfile:
		if strings.HasPrefix(id.Source, sourceSharedConfig) {
			return []string{"shared profile with static access keys: a long-lived secret in a mounted file; prefer IRSA or EKS Pod Identity"}
		}
	case ModeUnknown:
		return []string{fmt.Sprintf("unknown credential mode (source %q): cannot tell where the credentials come from", id.Source)}
	}
	return nil
}
