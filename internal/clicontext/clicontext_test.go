package clicontext

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func tarOf(t *testing.T, entries map[string]string) *bytes.Buffer {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for name, body := range entries {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &b
}

// An archive that is not an exported context is refused and leaves
// nothing: a TLS file must stay in its tls directory.
func TestImportRefusesWhatIsNoContext(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	meta := `{"Name":"orig","Endpoints":{"docker":{"Host":"unix:///x.sock"}}}`
	for _, bad := range []map[string]string{
		{"tls/docker/ca.pem": "x"},                             // no meta.json
		{"meta.json": "{not json"},                             // a broken one
		{"meta.json": meta, "etc/passwd": ""},                  // something else
		{"meta.json": meta, "tls/../../../../escape.pem": "k"}, // out of its tls directory
	} {
		if err := s.Import("c1", tarOf(t, bad)); err == nil {
			t.Errorf("%v: imported", bad)
		}
		if _, err := s.Get("c1"); err == nil {
			t.Errorf("%v: a refused import left its context", bad)
		}
	}
	if err := s.Import("c2", tarOf(t, map[string]string{"meta.json": meta, "tls/docker/ca.pem": "k"})); err != nil {
		t.Fatal(err)
	}
	c, err := s.Get("c2")
	if err != nil || c.Name != "c2" || c.Docker().Host != "unix:///x.sock" {
		t.Fatalf("imported: %+v %v", c, err)
	}
	if _, err := os.Stat(filepath.Join(s.TLSDir("c2"), "docker", "ca.pem")); err != nil {
		t.Errorf("the TLS file: %v", err)
	}
	if err := s.Import("c2", tarOf(t, map[string]string{"meta.json": meta})); err == nil {
		t.Error("an import over an existing context")
	}
	if err := CheckName("default"); err == nil {
		t.Error("default is reserved")
	}
}
