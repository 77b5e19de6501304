// Package diagnose names what is wrong with the workload's AWS credentials
// or its store, and says how to fix it.
//
// Each [Diagnosis] has a stable [Name] from the fixed set [Names] (a metric
// label: uploader_diagnosis_info{name}), what was observed, and the fix.
// Callers use three entry points: [Credentials] (at start and in `uploader
// check`), [Storage] (a failed S3 call) and the [Explainer] (the credential
// watcher's and the loop's hook, which keeps the diagnoses in force and
// exports the metric).
//
// One file per subject: tokenfile.go (token_file_*), claims.go (token_*),
// chain.go (credentials_shadowed, mutation_missing, silent_fallback),
// imds.go (imds_*), agent.go, clock.go, checksum.go and refresh.go. The
// function of each takes explicit inputs — an environment lookup, what stat
// and open said of a token file (package token), the process's uid and
// groups, the mode and identity the SDK resolved, the error of a credential
// or S3 call, a response Date — so that each case is a table test; the IMDS
// probe is the only one that observes the world itself. Adding a diagnosis:
// a Name here and in Names, its file and table test, and a row in
// docs/troubleshooting.md naming that test (TestTroubleshootingDoc).
//
// Nothing here returns a secret: a projected token's claims are shown
// (package token decodes them without verifying), never the raw token or its
// signature.
//
// The pod's namespace and service account, for the token's sub, come from the
// downward API variables creds.EnvPodNamespace and creds.EnvPodServiceAccount
// when they are set.
package diagnose
