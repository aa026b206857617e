package image

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/berth-project/berth/internal/image/reference"
	"github.com/berth-project/berth/internal/state"
)

// AuthFile is where `login` stores credentials: Docker's config.json
// ($DOCKER_CONFIG/config.json, else ~/.docker/config.json), so Docker,
// Podman and berth share one login; $REGISTRY_AUTH_FILE overrides it as
// for Podman.
func AuthFile() string {
	if f := os.Getenv("REGISTRY_AUTH_FILE"); f != "" {
		return f
	}
	dir := os.Getenv("DOCKER_CONFIG")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = "/root"
		}
		dir = filepath.Join(home, ".docker")
	}
	return filepath.Join(dir, "config.json")
}

// InlineAuths is a config.json with only the logins file holds itself
// ("auths" with an "auth"), for a container that has no credential
// helper; a missing file gives none.
func InlineAuths(file string) ([]byte, error) {
	var doc struct {
		Auths map[string]authEntry `json:"auths"`
	}
	b, err := os.ReadFile(file)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if err == nil {
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("auth file %s: %w", file, err)
		}
	}
	out := map[string]authEntry{}
	for k, v := range doc.Auths {
		if v.Auth != "" {
			out[k] = v
		}
	}
	return json.MarshalIndent(map[string]any{"auths": out}, "", "\t")
}

// authKey is the key Docker uses for a registry in config.json.
func authKey(server string) string {
	s := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://"), "/")
	if s == "" || s == reference.DefaultDomain || s == "index.docker.io" || strings.HasPrefix(s, "index.docker.io/") || s == "registry-1.docker.io" {
		return "https://index.docker.io/v1/"
	}
	return s
}

type authEntry struct {
	Auth string `json:"auth,omitempty"`
}

// editAuthFile changes the "auths" of an auth file and keeps every
// other key (credsStore, proxies, ...) as it was; when edit reports no
// change the file is not written (nor made).
func editAuthFile(file string, edit func(auths map[string]authEntry) (changed bool)) error {
	doc := map[string]json.RawMessage{}
	b, err := os.ReadFile(file)
	if err == nil {
		if err := json.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("auth file %s: %w", file, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("auth file %s: %w", file, err)
	}
	auths := map[string]authEntry{}
	if raw, ok := doc["auths"]; ok {
		if err := json.Unmarshal(raw, &auths); err != nil {
			return fmt.Errorf("auth file %s: auths: %w", file, err)
		}
	}
	if !edit(auths) {
		return nil
	}
	if doc["auths"], err = json.Marshal(auths); err != nil {
		return err
	}
	out, err := json.MarshalIndent(doc, "", "\t")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("auth file %s: %w", file, err)
	}
	return state.WriteFileAtomic(file, out, 0o600)
}

// CheckLogin checks credentials against the registry and stores
// nothing: the API's /auth, whose client keeps them.
func CheckLogin(ctx context.Context, server, user, password string, o RegistryOptions) error {
	if user == "" || password == "" {
		return errors.New("login: a username and a password are required")
	}
	host := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://"), "/")
	if host == "" || host == "index.docker.io" {
		host = reference.DefaultDomain
	}
	reg, err := name.NewRegistry(host, o.nameOptions()...)
	if err != nil {
		return fmt.Errorf("login %s: %w", server, err)
	}
	tr, err := transport.NewWithContext(ctx, reg, &authn.Basic{Username: user, Password: password}, o.transport(), []string{reg.Scope(transport.PullScope)})
	if err != nil {
		return fmt.Errorf("login %s: %w", server, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, reg.Scheme()+"://"+reg.RegistryStr()+"/v2/", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return fmt.Errorf("login %s: %w", server, err)
	}
	_ = resp.Body.Close() // read to its end; a response body closes without loss
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return fmt.Errorf("login %s: %w: incorrect username or password", server, ErrUnauthorized)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("login %s: registry answered %s", server, resp.Status)
	}
	return nil
}

// Login checks the credentials against the registry and stores them in
// file (AuthFile() when empty).
func Login(ctx context.Context, server, user, password, file string, o RegistryOptions) error {
	if err := CheckLogin(ctx, server, user, password, o); err != nil {
		return err
	}
	if file == "" {
		file = AuthFile()
	}
	enc := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	return editAuthFile(file, func(a map[string]authEntry) bool { a[authKey(server)] = authEntry{Auth: enc}; return true })
}

// ErrUnauthorized is a login the registry refused.
var ErrUnauthorized = errors.New("unauthorized")

// ErrNotLoggedIn is Logout's for a registry with no stored credentials.
var ErrNotLoggedIn = errors.New("not logged in")

// Logout removes the stored credentials of a registry.
func Logout(server, file string) error {
	if file == "" {
		file = AuthFile()
	}
	var found bool
	err := editAuthFile(file, func(a map[string]authEntry) bool {
		_, found = a[authKey(server)]
		delete(a, authKey(server))
		return found
	})
	if err == nil && !found {
		return fmt.Errorf("%w to %s", ErrNotLoggedIn, server)
	}
	return err
}

// Credentials are one registry's, as a client sends them with a
// request (the API's X-Registry-Auth and X-Registry-Config).
type Credentials struct {
	Username, Password, IdentityToken, RegistryToken string
}

// StaticKeychain gives the credentials a client sent, by registry (""
// for whichever the image is on); for a registry it lacks it asks Next,
// nil meaning Docker's config.json as a pull without any.
type StaticKeychain struct {
	Auths map[string]Credentials
	Next  authn.Keychain
}

// Resolve implements authn.Keychain.
func (k StaticKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	for key, c := range k.Auths {
		if key == "" || authKey(key) == authKey(r.RegistryStr()) {
			return authn.FromConfig(authn.AuthConfig{Username: c.Username, Password: c.Password,
				IdentityToken: c.IdentityToken, RegistryToken: c.RegistryToken}), nil
		}
	}
	if k.Next != nil {
		return k.Next.Resolve(r)
	}
	return authn.DefaultKeychain.Resolve(r)
}

// FileKeychain reads credentials from one auth file (--authfile).
type FileKeychain string

// Resolve implements authn.Keychain.
func (f FileKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	b, err := os.ReadFile(string(f))
	if err != nil {
		return nil, fmt.Errorf("auth file: %w", err)
	}
	var doc struct {
		Auths map[string]authEntry `json:"auths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("auth file %s: %w", f, err)
	}
	e, ok := doc.Auths[authKey(r.RegistryStr())]
	if !ok {
		return authn.Anonymous, nil
	}
	raw, err := base64.StdEncoding.DecodeString(e.Auth)
	if err != nil {
		return nil, fmt.Errorf("auth file %s: %w", f, err)
	}
	user, pass, _ := strings.Cut(string(raw), ":")
	return &authn.Basic{Username: user, Password: pass}, nil
}
