// Package standin provides loopback stand-ins for AWS identity endpoints:
// development tooling, never product code and never for production. It is
// shipped by cmd/standin (the Dockerfile's "standin" target, which the compose
// profiles and the end-to-end suite run) and used by tests through
// test/standintest.
//
// Each stand-in is a plain http.Handler served on a loopback listener:
//
//   - IMDS: an IMDSv2-only instance metadata service serving node-role
//     credentials (AWS_EC2_METADATA_SERVICE_ENDPOINT).
//   - Issuer: an OIDC issuer (discovery document and JWKS) that signs tokens
//     shaped like Kubernetes projected service-account tokens, for IRSA
//     (AWS_WEB_IDENTITY_TOKEN_FILE), written to disk by a TokenWriter the way
//     the kubelet writes projected volumes.
//   - PodIdentity: an EKS Pod Identity agent (AWS_CONTAINER_CREDENTIALS_FULL_URI
//     with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE).
//
// The credentials they serve are real temporary credentials minted by a MinIO
// server's STS AssumeRole for a put-only user (Minter), so a client using them
// has exactly that user's permissions. OIDC tokens are exchanged by the client
// itself, at MinIO's AssumeRoleWithWebIdentity.
//
// Listen refuses a non-loopback address unless AllowNonLoopback is set. Served
// responses carry secrets; logs never do.
package standin
