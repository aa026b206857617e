package copytree

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// A tree archived by WriteTar and unpacked by ExtractTar comes back as
// it was; names with .. stay under the extraction point; a link to
// outside the root cannot be written through.
func TestTarRoundTripAndConfinement(t *testing.T) {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "d", "e"), 0o750)
	os.WriteFile(filepath.Join(src, "d", "e", "f"), []byte("data"), 0o604)
	os.Symlink("e/f", filepath.Join(src, "d", "l"))
	var buf bytes.Buffer
	if err := WriteTar(Host{}, filepath.Join(src, "d"), "top", &buf); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	root, err := os.OpenRoot(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := ExtractTar(bytes.NewReader(buf.Bytes()), root, ".", ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "top", "l")); err != nil || string(b) != "data" {
		t.Fatalf("through the link: %q %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(dst, "top", "e", "f")); err != nil || fi.Mode().Perm() != 0o604 {
		t.Fatalf("mode: %v %v", fi, err)
	}
	if fi, err := os.Stat(filepath.Join(dst, "top", "e")); err != nil || fi.Mode().Perm() != 0o750 {
		t.Fatalf("dir mode: %v %v", fi, err)
	}
	// Replacing a directory with a file is refused when asked.
	var file bytes.Buffer
	tw := tar.NewWriter(&file)
	tw.WriteHeader(&tar.Header{Name: "top/e", Mode: 0o644, Typeflag: tar.TypeReg})
	tw.Close()
	if err := ExtractTar(bytes.NewReader(file.Bytes()), root, ".", ExtractOptions{NoOverwriteDirNonDir: true}); err == nil {
		t.Fatal("a file replaced a directory")
	}

	outside := t.TempDir()
	var bad bytes.Buffer
	tw = tar.NewWriter(&bad)
	tw.WriteHeader(&tar.Header{Name: "../../../../../../../../" + outside + "/dotdot", Mode: 0o644, Typeflag: tar.TypeReg})
	tw.WriteHeader(&tar.Header{Name: "out", Linkname: outside, Typeflag: tar.TypeSymlink})
	tw.WriteHeader(&tar.Header{Name: "out/through", Mode: 0o644, Typeflag: tar.TypeReg})
	tw.Close()
	if err := ExtractTar(bytes.NewReader(bad.Bytes()), root, ".", ExtractOptions{}); err == nil {
		t.Fatal("an entry through a link out of the root was written")
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("written outside: %v", ents)
	}
	if _, err := os.Stat(filepath.Join(dst, outside, "dotdot")); err != nil {
		t.Fatalf("the .. entry is not under the extraction point: %v", err)
	}
}
