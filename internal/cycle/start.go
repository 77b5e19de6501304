package cycle

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eks-least-privilege/uploader/internal/creds"
	"github.com/eks-least-privilege/uploader/internal/diagnose"
	"github.com/eks-least-privilege/uploader/internal/privilege"
)

// LeastPrivilege is what the start does with the least-privilege check
// (LEAST_PRIVILEGE_CHECK).
type LeastPrivilege string

// The least-privilege policies: no check, a check that logs, a check that
// refuses to start unless least privilege holds.
const (
	LeastPrivilegeOff     LeastPrivilege = "off"
	LeastPrivilegeWarn    LeastPrivilege = "warn"
	LeastPrivilegeEnforce LeastPrivilege = "enforce"
)

// UnmarshalText accepts off, warn or enforce.
func (p *LeastPrivilege) UnmarshalText(b []byte) error {
	v := LeastPrivilege(b)
	if !slices.Contains([]LeastPrivilege{LeastPrivilegeOff, LeastPrivilegeWarn, LeastPrivilegeEnforce}, v) {
		return fmt.Errorf("must be off, warn or enforce, got %q", b)
	}
	*p = v
	return nil
}

// StartOptions say what [Start] checks.
type StartOptions struct {
	LeastPrivilege LeastPrivilege
	Client         privilege.API // S3, for the least-privilege check
	Bucket, Prefix string
	Check          privilege.Options     // the encryption and expected owner the probes carry
	Registerer     prometheus.Registerer // uploader_least_privilege_ok, when the check runs
	Logger         *slog.Logger
	// Explainer holds what the credential watcher diagnosed while the gate
	// resolved; nil: no diagnoses.
	Explainer Explainer
}

// Start resolves the credentials through the gate and runs the
// least-privilege check if asked. Unavailable credentials stop the start when
// the gate requires a mode or the check is enforced (the mode or privilege
// cannot be proven); otherwise they are logged, and the loop counts and
// retries. The Identity is zero when credentials are unavailable.
func Start(ctx context.Context, gate *Gate, opts StartOptions) (creds.Identity, error) {
	logger := opts.Logger
	id, reason, err := gate.Resolve(ctx)
	var diagnoses diagnose.List
	if opts.Explainer != nil {
		diagnoses = opts.Explainer.List()
	}
	if err != nil {
		if len(gate.allowed) > 0 || opts.LeastPrivilege == LeastPrivilegeEnforce {
			if len(diagnoses) > 0 {
				return id, fmt.Errorf("resolve credentials: %w\n%s", err, diagnoses)
			}
			return id, fmt.Errorf("resolve credentials: %w", err)
		}
		logger.Error("credentials unavailable at start", "reason", reason, "err", err, "diagnoses", diagnoses)
		return id, nil
	}
	for _, w := range id.Warnings() {
		logger.Warn("weak credential mode", "mode", id.Mode, "warning", w)
	}
	for _, d := range diagnoses {
		// A silent fall back is refused where a mode is required: the
		// identity is not the one REQUIRE_CREDENTIAL_MODE asked for.
		if d.Name == diagnose.SilentFallback && len(gate.allowed) > 0 {
			return id, fmt.Errorf("REQUIRE_CREDENTIAL_MODE: %s", d)
		}
		logger.Warn("credentials diagnosed", "diagnosis", d)
	}
	if opts.LeastPrivilege == LeastPrivilegeOff || opts.LeastPrivilege == "" {
		return id, nil
	}
	// The gauge is registered only when the check runs: 0 never means "not checked".
	gauge, err := privilege.NewCheckMetric(opts.Registerer)
	if err != nil {
		return id, err
	}
	report, err := privilege.Check(ctx, opts.Client, opts.Bucket, opts.Prefix, opts.Check)
	gauge.Set(report, err)
	enforce := opts.LeastPrivilege == LeastPrivilegeEnforce
	switch {
	case err != nil && enforce:
		return id, fmt.Errorf("least-privilege check: %w", err)
	case err != nil:
		logger.Warn("least-privilege check could not run", "err", err)
	case !report.Holds():
		var table strings.Builder
		_ = report.WriteTable(&table)
		// Why the put was refused: its key, its encryption, the owner.
		var why diagnose.List
		if opts.Explainer != nil && report.PutError != nil {
			why = opts.Explainer.Storage(report.PutError)
		}
		if enforce {
			if len(why) > 0 {
				return id, fmt.Errorf("least-privilege check: %s\n%s%s", report.Verdict(), table.String(), why)
			}
			return id, fmt.Errorf("least-privilege check: %s\n%s", report.Verdict(), table.String())
		}
		logger.Warn("least privilege does not hold", "verdict", report.Verdict(), "table", table.String(), "diagnoses", why)
	default:
		logger.Info("least privilege holds", "verdict", report.Verdict())
	}
	return id, nil
}
