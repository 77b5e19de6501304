# Delivery targets; the top-level Makefile does `include deploy/deploy.mk`.
#
#   make image                 build the uploader image (docker or podman)
#   make manifests             render every overlay to dist/manifests/<mode>-<workload>.yaml
#   make eks-demo MODE=irsa    run the uploader Job on EKS with one credential mode
#   make eks-clean             remove everything eks-demo created
#   make image-test            offline podman build + hardened run (test/image/run.sh)

# docker when its daemon answers, else podman.
CONTAINER_ENGINE ?= $(shell docker info >/dev/null 2>&1 && echo docker || echo podman)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
IMAGE ?= uploader:$(VERSION)
MODE ?= irsa

.PHONY: image manifests eks-demo eks-clean image-test

image:
	$(CONTAINER_ENGINE) build --build-arg VERSION=$(VERSION) --target uploader -t $(IMAGE) .

manifests:
	go run ./deploy/render -overlays deploy/overlays -out dist/manifests

eks-demo:
	MODE=$(MODE) deploy/aws/eks-demo.sh

eks-clean:
	deploy/aws/eks-clean.sh

image-test:
	test/image/run.sh
