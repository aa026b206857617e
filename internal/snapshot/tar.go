package snapshot

import (
	"archive/tar"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// TarEdit may change an entry's header before it is written (or drop
// the entry with keep false) and return headers to write after it.
type TarEdit func(rel, path string, fi fs.FileInfo, h *tar.Header) (keep bool, after []*tar.Header)

// WriteTar tars the tree at root without following symlinks, owners
// numeric. A missing root is an empty archive (a container that never
// ran has no upper dir).
func WriteTar(w io.Writer, root string, edit TarEdit) error {
	return writeTar(w, root, edit, nil)
}

// writeTar is WriteTar; left, when set, is told each entry that cannot
// be archived (a socket), which the tar leaves out.
func writeTar(w io.Writer, root string, edit TarEdit, left func(path string)) error {
	tw := tar.NewWriter(w)
	links := map[[2]uint64]string{} // a multiply linked file's first name
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == root {
				return filepath.SkipAll
			}
			return err
		}
		if p == root {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			if left != nil {
				left(p)
			}
			return nil // sockets and the like: not archivable
		}
		h.Name, h.Uname, h.Gname = rel, "", ""
		if fi.IsDir() {
			h.Name += "/"
		}
		var after []*tar.Header
		if edit != nil {
			var keep bool
			if keep, after = edit(rel, p, fi, h); !keep {
				return nil
			}
		}
		// A file's other names are hard links to the first one written,
		// as in Docker's layers: one copy of the content, links kept.
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && h.Typeflag == tar.TypeReg && st.Nlink > 1 {
			id := [2]uint64{uint64(st.Dev), st.Ino}
			if first, seen := links[id]; seen {
				h.Typeflag, h.Linkname, h.Size = tar.TypeLink, first, 0
			} else {
				links[id] = h.Name
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg && h.Size > 0 {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.CopyN(tw, f, h.Size)
			_ = f.Close() // read only
			if err != nil {
				return err
			}
		}
		for _, a := range after {
			if err := tw.WriteHeader(a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
