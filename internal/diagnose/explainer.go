package diagnose

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eks-least-privilege/uploader/internal/creds"
)

// Groups of [active] an [Explainer] fills.
const (
	groupCredentials = "credentials" // the identity resolved, or why not
	groupRefresh     = "refresh"     // a refresh failing while the credentials work
	groupUpload      = "upload"      // the last upload's failure
)

// Explainer is the diagnosis of a running uploader: the credential
// watcher's hook ([Explainer.Watch]), the loop's for failure lines
// ([Explainer.Failed], [Explainer.Succeeded]), and the diagnoses in force
// ([Explainer.List]), exported through an [active].
type Explainer struct {
	// Store is what the uploads carry, for the diagnoses of their failures;
	// set it before the explainer is used.
	Store Store

	env      Env
	required []creds.Mode
	active   *active
	now      func() time.Time
	imds     *http.Client

	mu      sync.Mutex // guards lastKey
	lastKey string     // mode and reason of the last failure explained
}

// NewExplainer returns an Explainer for the environment env and the modes
// REQUIRE_CREDENTIAL_MODE allows, and registers uploader_diagnosis_info
// with reg (see [newActive]).
func NewExplainer(env Env, required []creds.Mode, reg prometheus.Registerer) (*Explainer, error) {
	active, err := newActive(reg)
	if err != nil {
		return nil, err
	}
	return &Explainer{env: env, required: required, active: active, now: time.Now}, nil
}

// Watch explains a watcher event: the credentials diagnoses when the
// identity changed, and after a failure the same plus a refresh that fails
// while the last credentials still work. A failure of the same mode and
// reason as the one before is not diagnosed again (the IMDS probe costs up
// to 2s). It returns the "diagnoses" attribute, or none.
func (e *Explainer) Watch(ctx context.Context, ev creds.Event) []slog.Attr {
	if ev.Err == nil {
		e.mu.Lock()
		e.lastKey = ""
		e.mu.Unlock()
		e.active.Set(groupRefresh, nil)
		l := e.credentials(ctx, ev.Identity, nil)
		e.active.Set(groupCredentials, l)
		return attrs(l)
	}
	var failing List
	if ev.Last != nil {
		failing = refresh(ev.Err, *ev.Last, e.now())
	}
	e.active.Set(groupRefresh, failing)
	key := string(ev.Identity.Mode) + "/" + creds.Reason(ev.Err)
	e.mu.Lock()
	repeat := key == e.lastKey
	e.lastKey = key
	e.mu.Unlock()
	if !repeat {
		e.active.Set(groupCredentials, e.credentials(ctx, ev.Identity, ev.Err))
	}
	return attrs(append(e.group(groupRefresh), e.group(groupCredentials)...))
}

// Credentials diagnoses an identity or its error now, for the start and
// `uploader check`, and records them.
func (e *Explainer) Credentials(ctx context.Context, id creds.Identity, err error) List {
	l := e.credentials(ctx, id, err)
	e.active.Set(groupCredentials, l)
	return l
}

func (e *Explainer) credentials(ctx context.Context, id creds.Identity, err error) List {
	return Credentials(ctx, Inputs{Env: e.env, Required: e.required, Identity: id, Err: err, Now: e.now, IMDSClient: e.imds})
}

// Failed returns the "diagnoses" attribute of a "cycle failed" line: for an
// upload, what its error says (checksums, clock); for the credentials stage,
// what Watch found.
func (e *Explainer) Failed(stage string, err error) []slog.Attr {
	switch stage {
	case groupUpload:
		l := e.Storage(err)
		e.active.Set(groupUpload, l)
		return attrs(l)
	case groupCredentials:
		return attrs(append(e.group(groupRefresh), e.group(groupCredentials)...))
	}
	return nil
}

// Storage diagnoses a failed S3 call with what the uploads carry (Store),
// without recording it: the start's probe put, for one.
func (e *Explainer) Storage(err error) List { return Storage(err, e.now(), e.Store) }

// Succeeded clears the upload diagnoses once an image is stored.
func (e *Explainer) Succeeded() { e.active.Set(groupUpload, nil) }

// List returns the diagnoses in force.
func (e *Explainer) List() List { return e.active.List() }

func (e *Explainer) group(g string) List { return e.active.Group(g) }

// attrs is the "diagnoses" attribute of l, or none when l is empty.
func attrs(l List) []slog.Attr {
	if len(l) == 0 {
		return nil
	}
	return []slog.Attr{slog.Any("diagnoses", l)}
}
