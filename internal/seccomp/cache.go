package seccomp

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/state"
)

// cacheFormat changes when the compiled form or its inputs change.
const cacheFormat = "berth-seccomp-3" // 2: the ENOSYS stub; 3: a binary tree

// maxCached bounds the cache: past it, the cache starts over.
const maxCached = 256

// CompileCached compiles s, or reads the program compiled for the same
// filter before from dir. Compiling Docker's default profile with
// libseccomp costs ~10 ms, twice what the rest of a container start
// costs; a cached program is read in microseconds. dir lives under the
// runtime's state root (root-owned, 0700): what is there is as trusted
// as the state itself. A nil s gives a nil program.
func CompileCached(s *specs.LinuxSeccomp, dir string) (*Program, error) {
	if s == nil {
		return nil, nil
	}
	in, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte(cacheFormat+"\x00"+runtime.GOARCH+"\x00"+libraryVersion()+"\x00"), in...))
	path := filepath.Join(dir, hex.EncodeToString(sum[:]))
	if b, err := os.ReadFile(path); err == nil {
		var p Program
		if json.Unmarshal(b, &p) == nil && len(p.Code) > 0 && len(p.Code)%8 == 0 {
			return &p, nil
		}
	}
	p, err := Compile(s)
	if err != nil {
		return nil, err
	}
	// The cache is an optimisation: failing to write it fails nothing.
	if err := os.MkdirAll(dir, 0o700); err == nil {
		if ents, err := os.ReadDir(dir); err == nil && len(ents) >= maxCached {
			for _, e := range ents {
				_ = os.Remove(filepath.Join(dir, e.Name())) // an old cache entry; the next sweep retries
			}
		}
		if b, err := json.Marshal(p); err == nil {
			if err := state.WriteFileVolatile(path, b, 0o600); err != nil {
				fmt.Fprintln(os.Stderr, "berth: warning: seccomp cache:", err)
			}
		}
	}
	return p, nil
}
