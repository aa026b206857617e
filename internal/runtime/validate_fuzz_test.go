package runtime

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadSpec feeds arbitrary bytes as a bundle's config.json: loading
// and validating never panics, and fails with an error on bad input.
func FuzzLoadSpec(f *testing.F) {
	f.Add([]byte(`{"ociVersion":"1.2.0","process":{"args":["sh"],"cwd":"/"},"root":{"path":"rootfs"},"linux":{"namespaces":[{"type":"mount"}]}}`))
	f.Add([]byte(`{"ociVersion":"1.2.0","process":{"args":[],"cwd":"rel"},"root":{"path":""},"mounts":[{"destination":"x"}],"linux":{"namespaces":[{"type":"bogus"},{"type":"pid","path":"/x"}],"uidMappings":[{"size":0}],"seccomp":{"defaultAction":"X"}}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, config []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "config.json"), config, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := LoadSpec(dir)
		if err != nil {
			return
		}
		Validate(s)
	})
}
