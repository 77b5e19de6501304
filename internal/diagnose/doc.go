// Package diagnose names what is wrong with the workload's AWS credentials
// and says how to fix it.
//
// Each [Diagnosis] has a stable [Name] from the fixed set [Names] (a metric
// label: uploader_diagnosis_info{name}), what was observed, and the fix. The
// functions that produce them take explicit inputs — an environment lookup,
// the result of stat and open on a token file, the process's uid and groups,
// the mode and identity the SDK resolved, the error of a credential or S3
// call, a response Date — so that each case is a table test; the few that
// observe the world themselves ([ObserveTokenFile], [ProbeIMDS],
// [CurrentProcess]) only gather those inputs.
//
// Nothing here returns a secret: a projected token is decoded for its claims
// (iss, aud, sub, exp, iat) without verifying it, and neither the raw token
// nor its signature is ever part of an output.
//
// The pod's namespace and service account, for the token's sub, come from the
// downward API variables [EnvPodNamespace] and [EnvPodServiceAccount] when
// they are set.
package diagnose
