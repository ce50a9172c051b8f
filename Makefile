# The two commands README.md opens with.
.PHONY: dev test setup

# Everything locally: Temporal dev server (UI on :8233), PostgreSQL, worker, API.
dev:
	go run ./cmd/dsr dev

# Every test, on real Temporal and real PostgreSQL (installed by setup).
test: setup
	go vet ./...
	go test -count=1 -timeout 30m ./...

# Installs the pinned Temporal CLI, PostgreSQL server binaries, Chromium and axe-core if missing.
setup:
	go run ./cmd/dsr setup
