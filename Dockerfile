# Multi-stage build of the uploader (default target) and of the standin
# credential stand-ins (target "standin", for the compose profiles).
#
#   make image PLATFORMS=linux/amd64,linux/arm64     (deploy/image.sh: labels, push)
#   docker build --target standin -t uploader-standin .
#
# The Go stages run on the build machine's platform and cross-compile for
# the target's (TARGETOS/TARGETARCH): a multi-arch build needs no emulation.
#
# Both base images are pinned; override them with --build-arg GO_IMAGE=... or
# RUNTIME_IMAGE=... (test/image/run.sh does, offline).
ARG GO_IMAGE=golang:1.26.8-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS deps
WORKDIR /src
# GOPROXY and GOFLAGS pass through from --build-arg (empty: Go's defaults);
# an offline build sets GOPROXY=off and mounts a module cache on /go/pkg/mod.
ARG GOPROXY
ARG GOFLAGS
ENV CGO_ENABLED=0 GOTOOLCHAIN=local
COPY go.mod go.sum ./
RUN go mod download
COPY . .

FROM deps AS build
ARG VERSION=dev
ARG TARGETOS
ARG TARGETARCH
RUN GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/uploader ./cmd/uploader

FROM deps AS build-standin
ARG VERSION=dev
ARG TARGETOS
ARG TARGETARCH
RUN GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/standin ./cmd/standin && \
    mkdir -p /out/tokens/irsa /out/tokens/pod-identity

# Development stand-ins for IMDSv2, an OIDC issuer and the EKS Pod Identity
# Agent; never deployed to a cluster.
FROM ${RUNTIME_IMAGE} AS standin
COPY --from=build-standin /out/standin /standin
# Token directories the stand-ins write to, owned by the runtime user so a
# compose volume mounted there is writable (docker copies the ownership).
COPY --from=build-standin --chown=65532:65532 /out/tokens /tokens
USER 65532:65532
ENTRYPOINT ["/standin"]

# The uploader. CA certificates and /etc/passwd (nonroot = 65532) come from
# the distroless base.
FROM ${RUNTIME_IMAGE} AS uploader
# OCI annotations (deploy/image.sh sets them from git; CREATED is
# SOURCE_DATE_EPOCH in RFC 3339, so one commit gives one label set).
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
ARG SOURCE_URL=https://github.com/eks-least-privilege/uploader
LABEL org.opencontainers.image.title=uploader \
      org.opencontainers.image.description="Streams random images into S3 and reports the AWS credential mode in use" \
      org.opencontainers.image.source=$SOURCE_URL \
      org.opencontainers.image.revision=$REVISION \
      org.opencontainers.image.version=$VERSION \
      org.opencontainers.image.created=$CREATED
COPY --from=build /out/uploader /uploader
USER 65532:65532
EXPOSE 9090
ENTRYPOINT ["/uploader"]
