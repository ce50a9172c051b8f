package devstack

// SetFreePort makes StartTemporal choose its ports with f until restore is
// called, for the test of a chosen port taken before the server binds it.
func SetFreePort(f func() (int, error)) (restore func()) {
	was := freePort
	freePort = f
	return func() { freePort = was }
}
