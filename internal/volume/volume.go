// Package volume owns named and anonymous volumes: directories under
// <root>/volumes/<name>/_data that outlive the containers mounting them,
// with their metadata beside them. Whether a volume is in use is the
// engine's knowledge; the store asks through InUse.
package volume

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Volume is one volume, as volume.json keeps it.
type Volume struct {
	Name       string            `json:"Name"`
	Driver     string            `json:"Driver"`
	Mountpoint string            `json:"Mountpoint"`
	CreatedAt  time.Time         `json:"CreatedAt"`
	Labels     map[string]string `json:"Labels"`
	Scope      string            `json:"Scope"`
	// Anonymous volumes come from an image's VOLUME or `-v /path`;
	// `rm -v` and `--rm` remove them with their container.
	Anonymous bool `json:"Anonymous,omitempty"`
	// Options are the local driver's (type, device, o): a device
	// mounted on Mountpoint while the volume is in use (see Mount).
	Options map[string]string `json:"Options,omitempty"`
}

// Store keeps volumes under Root/volumes.
type Store struct {
	Root string
	// InUse names the containers using a volume.
	InUse func(name string) ([]string, error)
}

// Errors callers test for.
var (
	ErrNotFound = errors.New("no such volume")
	ErrInUse    = errors.New("volume is in use")
)

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// ValidName reports whether s can name a volume (Docker's rule).
func ValidName(s string) bool { return nameRE.MatchString(s) && len(s) <= 255 }

func (s Store) dir(name string) string { return filepath.Join(s.Root, "volumes", name) }

// Create makes a volume, or returns the one of that name: creating an
// existing name is not an error, as in Docker. An empty name makes an
// anonymous volume. opts are the local driver's (see checkOptions).
func (s Store) Create(name string, labels, opts map[string]string) (*Volume, error) {
	anon := name == ""
	if anon {
		b := make([]byte, 32)
		_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24)
		name = hex.EncodeToString(b)
	}
	if !ValidName(name) {
		return nil, fmt.Errorf("invalid volume name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	if v, err := s.Get(name); err == nil {
		return v, nil
	}
	if err := checkOptions(opts); err != nil {
		return nil, fmt.Errorf("create volume %s: %w", name, err)
	}
	if err := os.MkdirAll(filepath.Join(s.Root, "volumes"), 0o700); err != nil {
		return nil, fmt.Errorf("create volume %s: %w", name, err)
	}
	// Made aside and renamed into place: a concurrent creator of the
	// same name either wins the rename or finds the winner's volume.
	tmp, err := os.MkdirTemp(filepath.Join(s.Root, "volumes"), ".new-")
	if err != nil {
		return nil, fmt.Errorf("create volume %s: %w", name, err)
	}
	defer os.RemoveAll(tmp) // the temp dir of a create; gone after a rename
	if labels == nil {
		labels = map[string]string{}
	}
	v := &Volume{Name: name, Driver: "local", Mountpoint: filepath.Join(s.dir(name), "_data"), CreatedAt: time.Now().UTC().Truncate(time.Second), Labels: labels, Scope: "local", Anonymous: anon}
	if len(opts) > 0 {
		v.Options = opts
	}
	if err := os.Mkdir(filepath.Join(tmp, "_data"), 0o755); err != nil {
		return nil, fmt.Errorf("create volume %s: %w", name, err)
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, "volume.json"), b, 0o600); err != nil {
		return nil, fmt.Errorf("create volume %s: %w", name, err)
	}
	os.Chmod(tmp, 0o711) // a non-root container user reaches _data
	if err := os.Rename(tmp, s.dir(name)); err != nil {
		if existing, gerr := s.Get(name); gerr == nil {
			return existing, nil
		}
		return nil, fmt.Errorf("create volume %s: %w", name, err)
	}
	return v, nil
}

// Get reads a volume.
func (s Store) Get(name string) (*Volume, error) {
	if !ValidName(name) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	b, err := os.ReadFile(filepath.Join(s.dir(name), "volume.json"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
		}
		return nil, err
	}
	var v Volume
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("volume %s: %w", name, err)
	}
	return &v, nil
}

// List returns every volume by name.
func (s Store) List() ([]*Volume, error) {
	ents, err := os.ReadDir(filepath.Join(s.Root, "volumes"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var out []*Volume
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if v, err := s.Get(e.Name()); err == nil {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove deletes a volume and its data; one in use only with force.
// The volume is first renamed aside, so a half-removed volume is never
// found by name.
func (s Store) Remove(name string, force bool) error {
	v, err := s.Get(name)
	if err != nil {
		return err
	}
	users, err := s.users(name)
	if err != nil {
		return err
	}
	if len(users) > 0 && !force {
		return fmt.Errorf("remove %s: %w: used by container(s) %s", name, ErrInUse, strings.Join(users, ", "))
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.unmount(v); err != nil {
		return err // the device stays; nothing under it was touched
	}
	gone := filepath.Join(s.Root, "volumes", ".rm-"+name)
	if err := os.Rename(s.dir(name), gone); err != nil {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	if err := os.RemoveAll(gone); err != nil {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	return nil
}

// Prune removes unused volumes: anonymous ones, or every unused one with
// all, as Docker 23+ does. It returns the names removed.
func (s Store) Prune(all bool) ([]string, error) {
	vols, err := s.List()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range vols {
		if !all && !v.Anonymous {
			continue
		}
		users, err := s.users(v.Name)
		if err != nil {
			return out, err
		}
		if len(users) > 0 {
			continue
		}
		if err := s.Remove(v.Name, false); err != nil {
			return out, err
		}
		out = append(out, v.Name)
	}
	return out, nil
}

// users names the containers of a volume. It fails closed: when they
// cannot be listed, rm and prune stop rather than delete a volume that
// a container may use.
func (s Store) users(name string) ([]string, error) {
	if s.InUse == nil {
		return nil, nil
	}
	users, err := s.InUse(name)
	if err != nil {
		return nil, fmt.Errorf("find the containers of volume %s: %w", name, err)
	}
	return users, nil
}
