package snapshot

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// entry is one tar entry of a test layer.
type entry struct {
	name, link, body string
	typ              byte
	mode             int64
	size             int64 // when set, overrides len(body) in the header
}

func layer(t *testing.T, entries ...entry) *bytes.Reader {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return bytes.NewReader(b.Bytes())
}

func requireRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: mknod, chown and trusted.* xattrs")
	}
}

// unpackTo unpacks into a fresh dir inside a parent that also holds a
// "host" file the layer must never touch.
func unpackTo(t *testing.T, r *bytes.Reader, o Options) (dir, host string, err error) {
	t.Helper()
	parent := t.TempDir()
	dir = filepath.Join(parent, "layer")
	os.Mkdir(dir, 0o755)
	host = filepath.Join(parent, "host")
	os.WriteFile(host, []byte("host\n"), 0o644)
	_, err = Unpack(r, dir, o)
	return dir, host, err
}

func read(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	return string(data)
}

func TestUnpackRegularLayer(t *testing.T) {
	requireRoot(t)
	dir, _, err := unpackTo(t, layer(t,
		entry{name: "./", typ: tar.TypeDir, mode: 0o755},
		entry{name: "/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "etc/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "etc/hostname", typ: tar.TypeReg, body: "box\n"},
		entry{name: "bin/su", typ: tar.TypeReg, body: "x", mode: 0o4755},
		entry{name: "etc/alias", typ: tar.TypeSymlink, link: "/etc/hostname"},
		entry{name: "etc/hard", typ: tar.TypeLink, link: "etc/hostname"},
		entry{name: "run/fifo", typ: tar.TypeFifo},
	), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if read(t, filepath.Join(dir, "etc/hard")) != "box\n" {
		t.Fatal("hard link content")
	}
	if l, _ := os.Readlink(filepath.Join(dir, "etc/alias")); l != "/etc/hostname" {
		t.Fatalf("symlink target %q", l)
	}
	fi, _ := os.Stat(filepath.Join(dir, "bin/su"))
	if fi.Mode()&os.ModeSetuid == 0 {
		t.Fatal("setuid bit lost")
	}
}

func TestHostileEntriesAreConfinedOrRefused(t *testing.T) {
	cases := []struct {
		name    string
		entries []entry
		refuse  bool   // the unpack fails
		inside  string // else: this file must exist inside the layer
	}{
		{"dot-dot name", []entry{{name: "../../host", typ: tar.TypeReg, body: "evil"}}, false, "host"},
		{"absolute name", []entry{{name: "/host", typ: tar.TypeReg, body: "evil"}}, false, "host"},
		{"write through absolute symlink", []entry{
			{name: "out", typ: tar.TypeSymlink, link: "/"},
			{name: "out/host", typ: tar.TypeReg, body: "evil"}}, true, ""},
		{"write through relative symlink", []entry{
			{name: "up", typ: tar.TypeSymlink, link: "../"},
			{name: "up/host", typ: tar.TypeReg, body: "evil"}}, true, ""},
		{"hard link out of the tree", []entry{{name: "h", typ: tar.TypeLink, link: "../host"}}, true, ""},
		{"device node", []entry{{name: "dev/mem", typ: tar.TypeChar}}, true, ""},
		{"whiteout with a path", []entry{{name: ".wh.", typ: tar.TypeReg}}, true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, host, err := unpackTo(t, layer(t, c.entries...), Options{NoChown: true})
			if c.refuse && err == nil {
				t.Fatal("hostile layer accepted")
			}
			if !c.refuse && err != nil {
				t.Fatalf("unpack: %v", err)
			}
			if got := read(t, host); got != "host\n" {
				t.Fatalf("the host file changed: %q", got)
			}
			if c.inside != "" && read(t, filepath.Join(dir, c.inside)) != "evil" {
				t.Fatal("the entry did not land inside the layer")
			}
		})
	}
}

// Sizes count as the header says: a sparse file counts at its full size.
func TestSizeLimitIsEnforced(t *testing.T) {
	_, _, err := unpackTo(t, layer(t,
		entry{name: "a", typ: tar.TypeReg, body: strings.Repeat("x", 600)},
		entry{name: "b", typ: tar.TypeReg, body: strings.Repeat("y", 600)},
	), Options{MaxBytes: 1000, NoChown: true})
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v", err)
	}
}

// Without a bound of its own, a layer may unpack to no more than its
// filesystem has free: a gzip bomb fails before the disk is full.
func TestSizeLimitIsTheFreeSpace(t *testing.T) {
	saved := freeSpace
	defer func() { freeSpace = saved }()
	freeSpace = func(string) (int64, bool) { return 1000, true }
	_, _, err := unpackTo(t, layer(t, entry{name: "big", typ: tar.TypeReg, body: strings.Repeat("x", 1500)}), Options{NoChown: true})
	if err == nil || !strings.Contains(err.Error(), "1000 bytes free on the storage root's filesystem") {
		t.Fatalf("err = %v", err)
	}
	freeSpace = func(string) (int64, bool) { return 1 << 40, true }
	if _, _, err := unpackTo(t, layer(t, entry{name: "small", typ: tar.TypeReg, body: "x"}), Options{NoChown: true}); err != nil {
		t.Fatal(err)
	}
}

func TestWhiteoutsBecomeOverlayForm(t *testing.T) {
	requireRoot(t)
	dir, _, err := unpackTo(t, layer(t,
		entry{name: "etc/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "etc/.wh.passwd", typ: tar.TypeReg},
		entry{name: "var/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "var/.wh..wh..opq", typ: tar.TypeReg},
	), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(dir, "etc/passwd"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Fatalf("whiteout: %+v %v", st, err)
	}
	buf := make([]byte, 8)
	n, err := unix.Lgetxattr(filepath.Join(dir, "var"), "trusted.overlay.opaque", buf)
	if err != nil || string(buf[:n]) != "y" {
		t.Fatalf("opaque marker: %q %v", buf[:n], err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "etc/.wh.passwd")); !os.IsNotExist(err) {
		t.Fatal("the whiteout marker itself was written")
	}
}

// FuzzUnpack feeds arbitrary bytes as a layer: no panic, and nothing
// written outside the target directory.
func FuzzUnpack(f *testing.F) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range []*tar.Header{
		{Name: "../x", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "/"},
		{Name: "l/y", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "d/.wh..wh..opq", Typeflag: tar.TypeReg},
	} {
		tw.WriteHeader(h)
	}
	tw.Close()
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "layer")
		os.Mkdir(dir, 0o755)
		Unpack(bytes.NewReader(data), dir, Options{MaxBytes: 1 << 20, NoChown: os.Geteuid() != 0})
		ents, _ := os.ReadDir(parent)
		if len(ents) != 1 {
			t.Fatalf("unpack wrote outside its directory: %v", ents)
		}
	})
}
