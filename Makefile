# The two commands README.md opens with, and the checks `make test` runs first.
.PHONY: dev test lint setup

# Everything locally: Temporal dev server (UI on :8233), PostgreSQL, worker, API.
dev:
	go run ./cmd/dsr dev

# Every test, on real Temporal and real PostgreSQL (installed by setup),
# after the linters.
test: lint
	go test -count=1 -timeout 30m ./...

# go vet, staticcheck and deadcode -test (scripts/lint; the linters are
# pinned and installed by setup; deadcode's kept findings are listed with
# their reasons in scripts/deadcode-allow.txt).
lint: setup
	scripts/lint

# Installs the pinned Temporal CLI, PostgreSQL server binaries, Chromium,
# axe-core, staticcheck and deadcode if missing.
setup:
	go run ./cmd/dsr setup
