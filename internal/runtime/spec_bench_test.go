package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// The pure part of the start path: config.json parsed, validated and
// planned. (The first decode in a process also pays encoding/json's type
// set-up, which a benchmark loop cannot show: see BENCHMARKS.md.)
func BenchmarkLoadValidatePlan(b *testing.B) {
	dir := b.TempDir()
	data, err := json.Marshal(ExampleSpec(false, 0, 0))
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s, err := LoadSpec(dir)
		if err != nil {
			b.Fatal(err)
		}
		if err := Validate(s); err != nil {
			b.Fatal(err)
		}
		if _, err := planNamespaces(s.Linux); err != nil {
			b.Fatal(err)
		}
	}
}

func TestExampleSpecIsValid(t *testing.T) {
	for _, rootless := range []bool{false, true} {
		if err := Validate(ExampleSpec(rootless, 1000, 1000)); err != nil {
			t.Errorf("ExampleSpec(rootless=%v): %v", rootless, err)
		}
	}
}
