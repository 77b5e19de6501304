# Multi-stage build of the uploader (default target) and of the standin
# credential stand-ins (target "standin", for the compose profiles).
#
#   docker build --build-arg VERSION=$(git describe --always --dirty) -t uploader .
#   docker build --target standin -t uploader-standin .
#
# Both base images are pinned; override them with --build-arg GO_IMAGE=... or
# RUNTIME_IMAGE=... (test/image/run.sh does, offline).
ARG GO_IMAGE=golang:1.26.8-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM ${GO_IMAGE} AS deps
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
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/uploader ./cmd/uploader

FROM deps AS build-standin
ARG VERSION=dev
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/standin ./cmd/standin && \
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
COPY --from=build /out/uploader /uploader
USER 65532:65532
EXPOSE 9090
ENTRYPOINT ["/uploader"]
