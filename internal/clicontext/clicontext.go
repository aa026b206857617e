// Package clicontext is the docker CLI's store of contexts, as berth's
// `context` verbs keep it: named Docker endpoints under
// DOCKER_CONFIG/contexts and the current one in config.json, in the
// docker CLI's own layout, so that a context berth makes (berth serve's
// socket, say) is one the docker CLI, compose and docker-py use. It is
// client configuration: no engine is involved.
package clicontext

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// DefaultName is the context of DOCKER_HOST (or the default socket),
// which is not stored.
const DefaultName = "default"

// Endpoint is a context's Docker endpoint.
type Endpoint struct {
	Host          string `json:"Host,omitempty"`
	SkipTLSVerify bool   `json:"SkipTLSVerify"`
}

// Context is one stored context, as meta.json holds it.
type Context struct {
	Name      string              `json:"Name"`
	Metadata  Metadata            `json:"Metadata"`
	Endpoints map[string]Endpoint `json:"Endpoints"`
}

// Metadata is what the docker CLI keeps beside the endpoints.
type Metadata struct {
	Description string `json:"Description,omitempty"`
}

// Docker is the context's Docker endpoint.
func (c Context) Docker() Endpoint { return c.Endpoints["docker"] }

// Store is the contexts under one Docker config directory.
type Store struct{ Dir string }

// Open is the store of the docker CLI's config directory: $DOCKER_CONFIG,
// else ~/.docker.
func Open() Store {
	dir := os.Getenv("DOCKER_CONFIG")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = "/root"
		}
		dir = filepath.Join(home, ".docker")
	}
	return Store{Dir: dir}
}

// id is a context's directory name, the docker CLI's: its name's
// SHA-256.
func id(name string) string {
	h := sha256.Sum256([]byte(name))
	return hex.EncodeToString(h[:])
}

func (s Store) metaDir(name string) string {
	return filepath.Join(s.Dir, "contexts", "meta", id(name))
}

// TLSDir is where a context's TLS files are.
func (s Store) TLSDir(name string) string { return filepath.Join(s.Dir, "contexts", "tls", id(name)) }

// MetaDir is where a context's meta.json is.
func (s Store) MetaDir(name string) string { return s.metaDir(name) }

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$`)

// CheckName refuses what the docker CLI refuses as a context's name.
func CheckName(name string) error {
	if name == DefaultName {
		return fmt.Errorf("%q is a reserved context name", name)
	}
	if !nameRE.MatchString(name) {
		return fmt.Errorf("context name %q is invalid, names are validated against regexp %q", name, nameRE.String())
	}
	return nil
}

// DefaultContext is the context the environment gives: DOCKER_HOST, or
// the default socket.
func DefaultContext() Context {
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	return Context{Name: DefaultName, Metadata: Metadata{Description: "Current DOCKER_HOST based configuration"},
		Endpoints: map[string]Endpoint{"docker": {Host: host}}}
}

// Get is the context name, the default one included.
func (s Store) Get(name string) (Context, error) {
	if name == DefaultName {
		return DefaultContext(), nil
	}
	b, err := os.ReadFile(filepath.Join(s.metaDir(name), "meta.json"))
	if errors.Is(err, os.ErrNotExist) {
		return Context{}, fmt.Errorf("context %q does not exist", name)
	}
	if err != nil {
		return Context{}, fmt.Errorf("context %q: %w", name, err)
	}
	var c Context
	if err := json.Unmarshal(b, &c); err != nil {
		return Context{}, fmt.Errorf("context %q: %w", name, err)
	}
	return c, nil
}

// List is every context, the default one included, by name.
func (s Store) List() ([]Context, error) {
	out := []Context{DefaultContext()}
	ents, err := os.ReadDir(filepath.Join(s.Dir, "contexts", "meta"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("list contexts: %w", err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(s.Dir, "contexts", "meta", e.Name(), "meta.json"))
		if err != nil {
			continue // a directory the docker CLI left half-made
		}
		var c Context
		if json.Unmarshal(b, &c) == nil && c.Name != "" {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Save writes c, a new context or a changed one.
func (s Store) Save(c Context) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("save context %q: %w", c.Name, err)
	}
	dir := s.metaDir(c.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save context %q: %w", c.Name, err)
	}
	return writeAtomic(filepath.Join(dir, "meta.json"), b, 0o644)
}

// Remove deletes a context and its TLS files.
func (s Store) Remove(name string) error {
	if _, err := s.Get(name); err != nil {
		return err
	}
	return errors.Join(os.RemoveAll(s.metaDir(name)), os.RemoveAll(s.TLSDir(name)))
}

// Current is the context in use: DOCKER_CONTEXT, else config.json's,
// else the default one.
func (s Store) Current() string {
	if c := os.Getenv("DOCKER_CONTEXT"); c != "" {
		return c
	}
	doc, err := s.config()
	if err != nil {
		return DefaultName
	}
	var name string
	if json.Unmarshal(doc["currentContext"], &name) != nil || name == "" {
		return DefaultName
	}
	return name
}

// Use makes name the current context in config.json, keeping its other
// keys; the default one is no entry.
func (s Store) Use(name string) error {
	if _, err := s.Get(name); err != nil {
		return err
	}
	doc, err := s.config()
	if err != nil {
		return err
	}
	if name == DefaultName {
		delete(doc, "currentContext")
	} else {
		doc["currentContext"], _ = json.Marshal(name) // a string: cannot fail
	}
	b, err := json.MarshalIndent(doc, "", "\t")
	if err != nil {
		return fmt.Errorf("config.json: %w", err)
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("config.json: %w", err)
	}
	return writeAtomic(filepath.Join(s.Dir, "config.json"), b, 0o600)
}

func (s Store) config() (map[string]json.RawMessage, error) {
	doc := map[string]json.RawMessage{}
	b, err := os.ReadFile(filepath.Join(s.Dir, "config.json"))
	if errors.Is(err, os.ErrNotExist) {
		return doc, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &doc)
	}
	if err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	return doc, nil
}

// Export writes name as the docker CLI exports a context: a tar of its
// meta.json and its tls directory.
func (s Store) Export(name string, w io.Writer) error {
	c, err := s.Get(name)
	if err != nil {
		return err
	}
	if name == DefaultName {
		return errors.New("the default context cannot be exported")
	}
	meta, err := json.Marshal(c)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	if err := tw.WriteHeader(&tar.Header{Name: "meta.json", Mode: 0o644, Size: int64(len(meta)), ModTime: time.Unix(0, 0)}); err != nil {
		return err
	}
	if _, err := tw.Write(meta); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: "tls", Typeflag: tar.TypeDir, Mode: 0o700, ModTime: time.Unix(0, 0)}); err != nil {
		return err
	}
	root := s.TLSDir(name)
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p) // p is under root
		if d.IsDir() {
			return tw.WriteHeader(&tar.Header{Name: "tls/" + rel, Typeflag: tar.TypeDir, Mode: 0o700, ModTime: time.Unix(0, 0)})
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: "tls/" + rel, Mode: 0o600, Size: int64(len(b)), ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("export context %q: %w", name, err)
	}
	return tw.Close()
}

// maxImport bounds what an imported context may hold.
const maxImport = 10 << 20

// Import reads an exported context under a new name. Nothing is kept
// of an archive that is not one: its TLS files must stay in its tls
// directory.
func (s Store) Import(name string, r io.Reader) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if _, err := s.Get(name); err == nil {
		return fmt.Errorf("context %q already exists", name)
	}
	tr := tar.NewReader(io.LimitReader(r, maxImport))
	var c *Context
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("import context %q: %w", name, err)
		}
		clean := filepath.Clean("/" + h.Name)[1:]
		switch {
		case h.Typeflag == tar.TypeDir:
		case clean == "meta.json" && h.Typeflag == tar.TypeReg:
			var m Context
			if err := json.NewDecoder(tr).Decode(&m); err != nil {
				return fmt.Errorf("import context %q: meta.json: %w", name, err)
			}
			c = &m
		case strings.HasPrefix(clean, "tls/") && h.Typeflag == tar.TypeReg:
			var b bytes.Buffer
			if _, err := io.Copy(&b, tr); err != nil {
				return fmt.Errorf("import context %q: %w", name, err)
			}
			files[strings.TrimPrefix(clean, "tls/")] = b.Bytes()
		default:
			return fmt.Errorf("import context %q: unexpected entry %q", name, h.Name)
		}
	}
	if c == nil {
		return fmt.Errorf("import context %q: no meta.json: not an exported context", name)
	}
	c.Name = name
	for rel, b := range files {
		p := filepath.Join(s.TLSDir(name), rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return err
		}
	}
	return s.Save(*c)
}

// SaveTLS copies a context's TLS files (ca, cert, key: "" for none)
// into the store, where the docker CLI looks for them.
func (s Store) SaveTLS(name string, files map[string]string) error {
	for kind, src := range files {
		if src == "" {
			continue
		}
		b, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("context %q: %s: %w", name, kind, err)
		}
		dir := filepath.Join(s.TLSDir(name), "docker")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, kind+".pem"), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func writeAtomic(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp) // the rename's error is the one to report
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
