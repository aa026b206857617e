package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/caps"
	"github.com/berth-project/berth/internal/rootfs"
)

// LoadSpec reads bundle/config.json.
func LoadSpec(bundle string) (*specs.Spec, error) {
	p := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("bundle %s: config.json not found", bundle)
		}
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("parse %s: %w", p, err)
	}
	return &s, nil
}

// namespaceTypes maps spec namespace types to their /proc/PID/ns names.
var namespaceTypes = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace: "pid", specs.NetworkNamespace: "net", specs.MountNamespace: "mnt",
	specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts", specs.UserNamespace: "user",
	specs.CgroupNamespace: "cgroup", specs.TimeNamespace: "time",
}

var rlimitNames = map[string]bool{
	"RLIMIT_AS": true, "RLIMIT_CORE": true, "RLIMIT_CPU": true, "RLIMIT_DATA": true,
	"RLIMIT_FSIZE": true, "RLIMIT_LOCKS": true, "RLIMIT_MEMLOCK": true, "RLIMIT_MSGQUEUE": true,
	"RLIMIT_NICE": true, "RLIMIT_NOFILE": true, "RLIMIT_NPROC": true, "RLIMIT_RSS": true,
	"RLIMIT_RTPRIO": true, "RLIMIT_RTTIME": true, "RLIMIT_SIGPENDING": true, "RLIMIT_STACK": true,
}

// Validate checks a config before anything is made for it, so that bad
// input fails with a clear line and leaves nothing behind.
func Validate(s *specs.Spec) error {
	if s.Version == "" {
		return errors.New("config.json: ociVersion is required")
	}
	if !strings.HasPrefix(s.Version, "1.") {
		return fmt.Errorf("config.json: unsupported ociVersion %q (want 1.x)", s.Version)
	}
	if s.Root == nil || s.Root.Path == "" {
		return errors.New("config.json: root.path is required")
	}
	p := s.Process
	if p == nil {
		return errors.New("config.json: process is required")
	}
	if len(p.Args) == 0 {
		return errors.New("config.json: process.args must not be empty")
	}
	if p.Cwd == "" || !filepath.IsAbs(p.Cwd) {
		return fmt.Errorf("config.json: process.cwd %q must be an absolute path", p.Cwd)
	}
	for _, rl := range p.Rlimits {
		if !rlimitNames[rl.Type] {
			return fmt.Errorf("config.json: unknown rlimit %q", rl.Type)
		}
		if rl.Soft > rl.Hard {
			return fmt.Errorf("config.json: rlimit %s soft limit %d exceeds hard limit %d", rl.Type, rl.Soft, rl.Hard)
		}
	}
	if _, err := caps.FromSpec(p.Capabilities); err != nil {
		return fmt.Errorf("config.json: %w", err)
	}
	if s.Linux == nil {
		return errors.New("config.json: linux section is required (berth runs Linux containers)")
	}
	l := s.Linux
	seen := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range l.Namespaces {
		if _, ok := namespaceTypes[ns.Type]; !ok {
			return fmt.Errorf("config.json: unknown namespace type %q", ns.Type)
		}
		if seen[ns.Type] {
			return fmt.Errorf("config.json: namespace %q listed twice", ns.Type)
		}
		seen[ns.Type] = true
		if ns.Path != "" && !filepath.IsAbs(ns.Path) {
			return fmt.Errorf("config.json: %s namespace path %q must be absolute", ns.Type, ns.Path)
		}
	}
	if (len(l.UIDMappings) > 0 || len(l.GIDMappings) > 0) && !seen[specs.UserNamespace] {
		return errors.New("config.json: uidMappings/gidMappings need a user namespace")
	}
	if len(l.TimeOffsets) > 0 && !seen[specs.TimeNamespace] {
		return errors.New("config.json: timeOffsets need a time namespace")
	}
	for k := range l.TimeOffsets {
		if k != "monotonic" && k != "boottime" {
			return fmt.Errorf("config.json: unknown time offset clock %q", k)
		}
	}
	if (s.Hostname != "" || s.Domainname != "") && !seen[specs.UTSNamespace] {
		return errors.New("config.json: hostname and domainname need a UTS namespace")
	}
	if l.RootfsPropagation != "" {
		if _, ok := rootfs.PropagationFlag(l.RootfsPropagation); !ok {
			return fmt.Errorf("config.json: invalid rootfsPropagation %q", l.RootfsPropagation)
		}
	}
	for _, m := range s.Mounts {
		if m.Destination == "" {
			return errors.New("config.json: a mount has no destination")
		}
	}
	for _, d := range l.Devices {
		switch d.Type {
		case "c", "b", "u", "p":
		default:
			return fmt.Errorf("config.json: device %s has unknown type %q", d.Path, d.Type)
		}
		if !filepath.IsAbs(d.Path) {
			return fmt.Errorf("config.json: device path %q must be absolute", d.Path)
		}
	}
	return nil
}
