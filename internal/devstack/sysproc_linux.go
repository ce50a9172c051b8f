package devstack

import "syscall"

// childProcAttr puts a long-running child in its own process group and asks
// the kernel to send it SIGTERM if we die without stopping it.
//
// Own process group: a Ctrl-C in the terminal running `dsr dev` goes to the
// whole foreground group; we want the parent to decide the shutdown order
// (stop the service first, then Temporal), not to have every child torn down
// at once. It also lets Stop signal the child and anything it spawned.
//
// Pdeathsig: if the test binary or `dsr dev` is killed (go test timeout,
// kill -9), an orphaned dev server would keep its port and its SQLite file.
// SIGTERM (not SIGKILL) lets the server close the file cleanly.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
