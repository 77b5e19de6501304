# Delivery targets; the top-level Makefile does `include deploy/deploy.mk`.
#
#   make image                 build the uploader image (deploy/image.sh: docker buildx or podman)
#   make image PLATFORMS=linux/amd64,linux/arm64 [PUSH=1 IMAGE=registry/uploader:tag]
#                              a multi-arch image, cross-compiled (no emulation)
#   make sbom                  CycloneDX SBOM of the module graph: dist/sbom.cdx.json
#   make lint-workflows        actionlint on .github/workflows (part of make lint)
#   make manifests             render every overlay to dist/manifests/<mode>-<workload>.yaml
#   make eks-demo MODE=irsa    run the uploader Job on EKS with one credential mode
#   make eks-clean             remove everything eks-demo created
#   make image-test            offline podman build + hardened run (test/image/run.sh)

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
IMAGE ?= uploader:$(VERSION)
PLATFORMS ?=
PUSH ?= 0
MODE ?= irsa
SBOM ?= dist/sbom.cdx.json

# Go tools built from the module proxy, cached by version (a new version is a
# new directory; the first build takes a minute or two).
TOOLS_CACHE ?= $(HOME)/.cache/uploader-tools
ACTIONLINT_VERSION := v1.7.12
CYCLONEDX_GOMOD_VERSION := v1.10.0
ACTIONLINT := $(TOOLS_CACHE)/actionlint-$(ACTIONLINT_VERSION)/actionlint
CYCLONEDX_GOMOD := $(TOOLS_CACHE)/cyclonedx-gomod-$(CYCLONEDX_GOMOD_VERSION)/cyclonedx-gomod

.PHONY: image sbom lint-workflows manifests eks-demo eks-clean image-test

image:
	IMAGE=$(IMAGE) PLATFORMS=$(PLATFORMS) PUSH=$(PUSH) VERSION=$(VERSION) deploy/image.sh

sbom: $(CYCLONEDX_GOMOD)
	@mkdir -p $(dir $(SBOM))
	$(CYCLONEDX_GOMOD) mod -json -licenses -output $(SBOM) .

lint-workflows: $(ACTIONLINT)
	$(ACTIONLINT) -no-color

$(ACTIONLINT):
	GOBIN=$(@D) $(GO) install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

$(CYCLONEDX_GOMOD):
	GOBIN=$(@D) $(GO) install github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@$(CYCLONEDX_GOMOD_VERSION)

manifests:
	go run ./deploy/render -overlays deploy/overlays -out dist/manifests

eks-demo:
	MODE=$(MODE) deploy/aws/eks-demo.sh

eks-clean:
	deploy/aws/eks-clean.sh

image-test:
	test/image/run.sh
