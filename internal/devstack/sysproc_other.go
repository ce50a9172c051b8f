//go:build !linux

package devstack

import "syscall"

// childProcAttr puts a long-running child in its own process group; see the
// Linux version for why. Other systems have no parent-death signal.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
