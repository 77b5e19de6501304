// Package token reads a projected service-account token the way a pod sees
// it: the file (stat and open, its owner, group and mode against the
// process's ids, see [Observe] and [Process]) and its claims (iss, aud, sub,
// exp, iat and the kubernetes.io namespace and service account, see
// [Decode] and [Read]).
//
// Claims are decoded without verifying the token: they tell why STS or the
// Pod Identity agent refuses it, not whether to trust it (package issuer
// checks the signature). Nothing here returns or prints the raw token or its
// signature, and no error quotes it.
//
// What the observations mean for the workload (a volume not mounted, a wrong
// audience, ...) is package diagnose.
package token
