// Package cycle is the uploader's loop. One cycle, under its own deadline:
// the credentials gate (the SDK's credentials still resolve, in an allowed
// mode), one image fetched and checked as it streams, and that stream stored
// under a fresh key. Between cycles: the interval, or a jittered backoff after
// a failure. The package owns the health that /healthz and /readyz report
// (written here only) and the metrics the loop records, whose failure labels
// are built from the reasons the fetch, upload and creds packages export.
//
// It imports fetch, upload and creds; it does not build them: the command
// wires a [Loop] from their constructors.
package cycle
