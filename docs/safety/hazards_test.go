// Package safety holds the clinical safety case and hazard log. Its test
// keeps the log honest: every hazard names the tests that show its controls
// work, and every test it names exists.
package safety

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// testRef is a named test: "internal/outbox.TestUrgentGoesFirst".
var testRef = regexp.MustCompile("`([a-z0-9/]+)\\.((?:Test|Fuzz|Benchmark)[A-Za-z0-9_]+)`")

func TestEveryHazardNamesTestsThatExist(t *testing.T) {
	f, err := os.Open("hazard-log.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	root := filepath.Join("..", "..")
	hazard, named := "", map[string]int{}
	var hazards []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## H") {
			hazard = strings.TrimPrefix(line, "## ")
			hazards = append(hazards, hazard)
			continue
		}
		if hazard == "" || !strings.HasPrefix(line, "* **Test:**") {
			continue
		}
		for _, m := range testRef.FindAllStringSubmatch(line, -1) {
			named[hazard]++
			if !testExists(t, filepath.Join(root, m[1]), m[2]) {
				t.Errorf("%s names %s.%s, which does not exist", hazard, m[1], m[2])
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(hazards) < 10 {
		t.Fatalf("only %d hazards read: is the log's shape (## Hnn …, * **Test:** …) intact?", len(hazards))
	}
	for _, h := range hazards {
		if named[h] == 0 {
			t.Errorf("%s names no test: every hazard's control must be shown to work", h)
		}
	}
}

// testExists reports whether a _test.go file in dir declares func name.
func testExists(t *testing.T, dir, name string) bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	decl := regexp.MustCompile(`(?m)^func ` + regexp.QuoteMeta(name) + `\(`)
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if decl.Match(b) {
			return true
		}
	}
	return false
}
