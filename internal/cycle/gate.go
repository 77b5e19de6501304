package cycle

import (
	"context"

	"github.com/eks-least-privilege/uploader/internal/creds"
)

// ReasonModeNotAllowed counts cycles whose credentials are of a mode that
// REQUIRE_CREDENTIAL_MODE does not allow.
const ReasonModeNotAllowed = "mode_not_allowed"

// Gate resolves the credentials before each cycle and enforces the allowed
// modes; readiness follows its result.
type Gate struct {
	watcher *creds.Watcher
	allowed []creds.Mode // empty: any mode
	health  *Health
}

// NewGate returns a Gate over w that allows the given modes (none: any) and
// records its result in h.
func NewGate(w *creds.Watcher, allowed []creds.Mode, h *Health) *Gate {
	return &Gate{watcher: w, allowed: allowed, health: h}
}

// Resolve resolves the credentials (cheap: the SDK caches them), enforces
// the allowed modes and returns the identity with the reason of a failure:
// one of creds.Reasons or ReasonModeNotAllowed.
func (g *Gate) Resolve(ctx context.Context) (creds.Identity, string, error) {
	id, err := g.watcher.Check(ctx)
	reason := ""
	switch {
	case err != nil:
		reason = creds.Reason(err)
	case len(g.allowed) > 0:
		if err = creds.Require(id, g.allowed); err != nil {
			reason = ReasonModeNotAllowed
		}
	}
	g.health.credsOK.Store(err == nil)
	return id, reason, err
}

// Check is Resolve without the identity, as the loop calls it.
func (g *Gate) Check(ctx context.Context) (string, error) {
	_, reason, err := g.Resolve(ctx)
	return reason, err
}
