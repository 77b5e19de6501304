// Package deploy holds the delivery files of the uploader, and no code: the
// kustomize bases, credential-mode components and overlays, the AWS policies
// and EKS demo scripts, the Grafana and Prometheus files. Its tests
// (deploy_test.go) render and check all of them, and the compose file and
// scripts at the repository root, offline.
package deploy
