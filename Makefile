# The make targets are the project's interface. `make demo` and `make test`
# work on a fresh machine: they install what is missing (scripts/tools.sh).
SHELL := bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN := bin/uploader

.PHONY: all build run demo demo-modes test test-race bench lint tools clean e2e e2e-compose compose-images

all: build

build: ## build bin/uploader: static, trimmed, versioned
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/uploader
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/standin ./cmd/standin

run: build ## run the uploader with the environment as it is
	./$(BIN)

demo: build tools ## local demo: MinIO on loopback, a few uploads from the builtin source
	scripts/demo.sh

demo-modes: build tools ## the four credential modes end to end against a local MinIO
	scripts/demo-modes.sh

test: ## every test; integration tests against a real MinIO
	scripts/test.sh

e2e: ## the eight overlays on a real kube-apiserver, kubelet and EKS webhook, on 127.0.0.1 (root; see README)
	test/e2e/run.sh

e2e-compose: ## docker-compose.yaml for real: every profile on podman with Compose v2, checked (root; see README)
	test/e2e/compose/run.sh

compose-images: ## uploader:dev and uploader-standin:dev for compose, built offline with podman
	test/image/build.sh

test-race: tools
	PATH="$$($(GO) env GOPATH)/bin:$$PATH" $(GO) test -race -count=1 ./cmd/... ./internal/... ./standin/... ./test/miniotest/... ./test/standintest/... ./test/testenv/...

bench: tools ## speed and memory targets
	PATH="$$($(GO) env GOPATH)/bin:$$PATH" $(GO) test -run '^$$' -bench . -benchmem ./...

lint: lint-workflows ## gofmt, go vet, staticcheck, shellcheck, actionlint
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	shellcheck -x .ci/run scripts/*.sh $$(git ls-files 'deploy/*.sh' 'test/*.sh')

tools:
	scripts/tools.sh

clean:
	rm -rf bin dist

-include deploy/deploy.mk
