// Package docs holds the project's documentation. Its test keeps
// architecture.md's "Where does … live" honest: a newcomer follows a path
// from it in one hop, so every path it names must exist, and every
// `file:Name` must declare Name.
package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// namedPath is a backticked repository path, optionally with the name of a
// declaration in it: `internal/register/policy.go:DefaultPolicy`.
var namedPath = regexp.MustCompile("`([A-Za-z0-9_./-]+/[A-Za-z0-9_./-]*|[A-Za-z0-9_-]+\\.(?:go|md|yml|sql|csv))(?::([A-Za-z_][A-Za-z0-9_]*))?`")

func TestWhereDoesLiveNamesPathsThatExist(t *testing.T) {
	doc, err := os.ReadFile("architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	section := whereDoesLive(t, string(doc))
	root := ".."
	checked := 0
	for _, m := range namedPath.FindAllStringSubmatch(section, -1) {
		path, name := m[1], m[2]
		checked++
		full := filepath.Join(root, filepath.FromSlash(path))
		st, err := os.Stat(full)
		if err != nil {
			t.Errorf("architecture.md names `%s`, which does not exist", path)
			continue
		}
		if name == "" {
			continue
		}
		if st.IsDir() {
			t.Errorf("architecture.md names `%s:%s`, but %s is a directory", path, name, path)
			continue
		}
		if !declares(t, full, name) {
			t.Errorf("architecture.md names `%s:%s`, but %s declares no %s", path, name, path, name)
		}
	}
	// A table whose paths stopped matching the pattern would pass with
	// nothing checked.
	if checked < 60 {
		t.Fatalf("only %d paths checked in \"Where does … live\": is the table's shape (backticked paths) intact?", checked)
	}
}

// whereDoesLive is the "## Where does … live" section, up to the next
// second-level heading.
func whereDoesLive(t *testing.T, doc string) string {
	t.Helper()
	start := strings.Index(doc, "\n## Where does")
	if start < 0 {
		t.Fatal(`architecture.md has no "## Where does … live" section`)
	}
	rest := doc[start+1:]
	if end := strings.Index(rest[2:], "\n## "); end >= 0 {
		rest = rest[:end+2]
	}
	return rest
}

// declares reports whether the file declares name: a func or method, a
// type, a var or const (alone or in a block), or a struct field.
func declares(t *testing.T, file, name string) bool {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	q := regexp.QuoteMeta(name)
	decl := regexp.MustCompile(`(?m)^(?:func (?:\([^)]*\) )?` + q + `\b|type ` + q + `\b|(?:var|const) ` + q + `\b|\t` + q + `\s)`)
	return decl.Match(b)
}
