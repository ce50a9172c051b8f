// Package devstack starts the real local parts that the service and its tests
// need: the Temporal CLI dev server and a private PostgreSQL cluster.
//
// Nothing here is a mock. The Temporal CLI is built once, at a pinned version,
// from the Go module proxy (the only place the project downloads tools from)
// and cached per user. PostgreSQL comes from the machine's own server binaries
// (initdb, pg_ctl) and listens on a unix socket only, so that several clusters
// (one per test package, plus `dsr dev`) can run side by side without fighting
// over TCP ports.
//
// Package devstacktest wraps these for tests (testing.TB cleanup, TestMain).
package devstack
