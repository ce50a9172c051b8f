package devstack

import "io"

// orDiscard is where a part writes what it is doing when the caller gave no
// log: nowhere.
func orDiscard(log io.Writer) io.Writer {
	if log == nil {
		return io.Discard
	}
	return log
}
