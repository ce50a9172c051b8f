package devstack

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeAptGet puts an apt-get first on PATH that records its arguments and
// runs body (a shell snippet), so the install steps can be checked without
// changing the machine.
func fakeAptGet(t *testing.T, body string) (calls string) {
	t.Helper()
	dir := t.TempDir()
	calls = filepath.Join(dir, "calls")
	script := "#!/bin/sh\necho \"$DEBIAN_FRONTEND $*\" >> " + calls + "\n" + body + "\n"
	if err := os.WriteFile(filepath.Join(dir, "apt-get"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("DEBIAN_FRONTEND", "") // whatever this machine sets, apt-get must be told
	return calls
}

func TestAptGetInstallUpdatesThenInstallsQuietly(t *testing.T) {
	calls := fakeAptGet(t, `echo "setting up $*"`)
	var log bytes.Buffer
	if err := aptGetInstall(context.Background(), &log, "chromium"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(calls)
	want := "noninteractive update\nnoninteractive install -y --no-install-recommends chromium\n"
	if string(got) != want {
		t.Errorf("apt-get ran as\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(log.String(), "setting up install -y --no-install-recommends chromium") {
		t.Errorf("apt-get's output is not in the log: %q", log.String())
	}
}

func TestAptGetInstallStopsAtAFailedStepAndSaysWhy(t *testing.T) {
	calls := fakeAptGet(t, `echo "E: Could not get lock /var/lib/apt/lists/lock"; exit 100`)
	err := aptGetInstall(context.Background(), nil, "postgresql")
	if err == nil || !strings.Contains(err.Error(), "apt-get update") || !strings.Contains(err.Error(), "Could not get lock") {
		t.Fatalf("a failed apt-get update: %v, want it named with apt-get's own words", err)
	}
	if got, _ := os.ReadFile(calls); strings.Count(string(got), "\n") != 1 {
		t.Errorf("apt-get ran again after update failed:\n%s", got)
	}
}
