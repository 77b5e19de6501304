// Package issuer examines what a projected service-account token is trusted
// by: the OIDC issuer named by its iss claim, that issuer's discovery
// document (ISSUER/.well-known/openid-configuration) and keys (jwks_uri), the
// token's signature checked against the key of its kid, and the cluster CA
// the pod sees (ca.crt). It answers, from inside the pod, what STS checks
// when it takes an IRSA token: STS fetches the same discovery document and
// keys.
//
// Documents are fetched over https only, with the guarded client of
// internal/fetch (timeouts, a size limit, no link-local or metadata address;
// see [Options]). Parsing and verification use go-jose
// (github.com/go-jose/go-jose/v4), the maintained JOSE library of the Go
// ecosystem (coreos/go-oidc and Dex use it; Kubernetes signs service-account
// tokens with its v2 line): it refuses the "none" algorithm, checks the
// token's algorithm against an allow-list before any key is used, and
// matches key types to algorithms. Nothing here prints or returns the raw token or its signature.
package issuer
