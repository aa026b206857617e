package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	_ "crypto/sha512" // --checksum=sha384:… and sha512:…
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-project/berth/internal/compression"
	"github.com/berth-project/berth/internal/snapshot"
)

// isURL tells ADD's remote sources from paths in the context.
func isURL(src string) bool {
	return strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://")
}

// isArchive says whether ADD unpacks the file: Docker decides by its
// content (a tar, plain or gzip, bzip2, xz or zstd), not by its name.
func isArchive(p string) bool {
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	f, err := os.Open(p)
	if err != nil {
		return false // copied as it is; the copy reports the error
	}
	defer f.Close() // read only
	r, _, err := compression.Reader(f)
	if err != nil {
		return false
	}
	defer r.Close() // a decompressor; f is closed above
	_, err = tar.NewReader(r).Next()
	return err == nil
}

// unpackArchive unpacks a local archive into dir as the layers are: no
// entry reaches outside dir, device nodes are refused, and .wh. names
// are plain files (an archive is not a layer).
func unpackArchive(p, dir string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close() // read only
	r, _, err := compression.Reader(f)
	if err != nil {
		return err
	}
	defer r.Close() // a decompressor; f is closed above
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	_, err = snapshot.Unpack(r, dir, snapshot.Options{Plain: true})
	return err
}

// fetch downloads ADD's URL into dir, as a file named by the URL's last
// path element (mode 0600 and the server's Last-Modified, as Docker
// has them), and checks it against --checksum when one is given.
func (b *builder) fetch(ctx context.Context, src, checksum, dir string) (string, error) {
	var want digest.Digest
	if checksum != "" {
		var err error
		if want, err = digest.Parse(checksum); err != nil {
			return "", fmt.Errorf("--checksum=%s: %w", checksum, err)
		}
	}
	u, err := url.Parse(src)
	if err != nil {
		return "", fmt.Errorf("%s: %w", src, err)
	}
	name := path.Base(u.Path)
	if name == "/" || name == "." {
		name = "__unnamed__"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return "", fmt.Errorf("%s: %w", src, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("ADD %s: %w", src, err)
	}
	defer resp.Body.Close() // read to its end or abandoned on error
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("ADD %s: the server answered %s", src, resp.Status)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	p := filepath.Join(dir, name)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	var verifier digest.Verifier
	w := io.Writer(f)
	if want != "" {
		verifier = want.Verifier()
		w = io.MultiWriter(f, verifier)
	}
	_, err = io.Copy(w, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("ADD %s: %w", src, err)
	}
	if verifier != nil && !verifier.Verified() {
		return "", fmt.Errorf("ADD %s: content does not match --checksum=%s", src, checksum)
	}
	if t, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		if err := os.Chtimes(p, time.Time{}, t); err != nil {
			return "", err
		}
	}
	return p, nil
}

// looksLikeTar tells a tar from a Dockerfile by its start: the ustar
// magic of its first header (one of PAX's extended headers, as Python's
// tarfile writes them, needs more than the start to parse), else a first
// header that parses (a v7 tar).
func looksLikeTar(head []byte) bool {
	if len(head) >= 512 && bytes.HasPrefix(head[257:], []byte("ustar")) {
		return true
	}
	_, err := tar.NewReader(bytes.NewReader(head)).Next()
	return err == nil
}

// contextFromArchive unpacks o.ContextArchive into a directory that
// becomes o.ContextDir, confined as a layer is, and opens the
// Dockerfile inside it without following a link out; a stream that is
// not a tar is the Dockerfile. The returned func removes what it made.
func contextFromArchive(o *Options, scratch string) (func(), error) {
	r, _, err := compression.Reader(o.ContextArchive)
	if err != nil {
		return nil, fmt.Errorf("build: the context: %w", err)
	}
	dir, err := os.MkdirTemp(scratch, "context-")
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	done := func() {
		_ = r.Close()         // a decompressor over the caller's stream
		_ = os.RemoveAll(dir) // an unpacked copy
	}
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(1024) // a shorter stream is a Dockerfile or nothing
	if !looksLikeTar(head) {
		if o.Source == nil {
			o.Source, o.Dockerfile = br, "Dockerfile"
		}
		o.ContextDir = dir
		return done, nil
	}
	if _, err := snapshot.Unpack(br, dir, snapshot.Options{Plain: true, NoChown: os.Geteuid() != 0}); err != nil {
		done()
		return nil, fmt.Errorf("build: the context: %w", err)
	}
	o.ContextDir = dir
	if o.Source == nil {
		name := o.Dockerfile
		if name == "" {
			name = "Dockerfile"
		}
		root, err := os.OpenRoot(dir)
		if err != nil {
			done()
			return nil, fmt.Errorf("build: %w", err)
		}
		f, err := root.Open(strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(name)), "/"))
		_ = root.Close() // f stays open without it
		if err != nil {
			done()
			return nil, fmt.Errorf("build: the context has no %s: %w", name, err)
		}
		o.Source, o.Dockerfile = f, name
		prev := done
		done = func() { _ = f.Close(); prev() } // read only
	}
	return done, nil
}
