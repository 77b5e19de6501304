// Package creds tells which AWS credential mode a workload runs under and
// which identity the SDK resolved.
//
// It provides:
//
//   - [Mode] and [Detect]: the credential mode (static, node-role, irsa,
//     pod-identity, ecs, shared-profile, unknown) read from what the SDK
//     actually resolved — the credentials' Source and the credentials cache's
//     ProviderSources — not guessed from environment variables;
//   - [Resolve]: an [Identity] (mode, source, masked access key id, role and
//     caller ARN, account, expiry) retrieved through the config's credentials
//     cache, with sts:GetCallerIdentity as a best-effort extra;
//   - [ProfileChain]: a role the shared config profile assumes from another
//     identity's credentials (IRSA, then sts:AssumeRole into the bucket
//     owner's account); [Resolve] reports its hops in the Identity: the
//     first hop's mode and role, the final role, whether an external id is
//     sent;
//   - [Reason]: a small fixed set of failure reasons for a metrics label;
//   - [ParseModes] and [Require]: REQUIRE_CREDENTIAL_MODE, which stops a silent
//     fall back to the node role when IRSA or Pod Identity is misconfigured;
//   - [Watcher]: per-cycle credential checks that log changes and export
//     uploader_aws_credentials_info and uploader_aws_credential_refreshes_total.
//
// What the identity may do in the bucket is package privilege.
// Nothing here logs, exports or returns a secret access key or session token.
package creds
