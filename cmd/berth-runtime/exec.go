package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/runtime"
)

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

// execCmd is runc's exec: a process from --process or from the arguments
// after the id, on top of the container's own process spec.
func (a *app) execCmd(args []string) (int, error) {
	fs := flags("exec")
	var env, caps, gids, cgroupPaths list
	processFile := fs.String("process", "", "")
	fs.StringVar(processFile, "p", "", "")
	tty := fs.Bool("tty", false, "")
	fs.BoolVar(tty, "t", false, "")
	consoleSocket := fs.String("console-socket", "", "")
	cwd := fs.String("cwd", "", "")
	user := fs.String("user", "", "")
	fs.StringVar(user, "u", "", "")
	nnp := fs.Bool("no-new-privs", false, "")
	apparmor := fs.String("apparmor", "", "")
	label := fs.String("process-label", "", "")
	detach := fs.Bool("detach", false, "")
	fs.BoolVar(detach, "d", false, "")
	pidFile := fs.String("pid-file", "", "")
	preserve := fs.Int("preserve-fds", 0, "")
	ignorePaused := fs.Bool("ignore-paused", false, "")
	fs.Var(&cgroupPaths, "cgroup", "")
	fs.Var(&env, "env", "")
	fs.Var(&env, "e", "")
	fs.Var(&caps, "cap", "")
	fs.Var(&caps, "c", "")
	fs.Var(&gids, "additional-gids", "")
	fs.Var(&gids, "g", "")
	// Everything after the id is the command: flags go before it.
	if err := fs.Parse(args); err != nil {
		return 2, fmt.Errorf("exec: %w", err)
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return 2, errors.New("exec: a container id is required")
	}
	id, command := rest[0], rest[1:]
	if *apparmor != "" {
		return 2, errors.New("exec: --apparmor is not supported: berth does not apply AppArmor profiles")
	}
	if *label != "" {
		return 2, errors.New("exec: --process-label is not supported: berth does not apply SELinux labels")
	}
	sub, err := runtime.ParseSubCgroups(cgroupPaths)
	if err != nil {
		return 255, fmt.Errorf("exec failed: %w", err)
	}
	r := a.runtime()
	var p *specs.Process
	if *processFile != "" {
		data, err := os.ReadFile(*processFile)
		if err != nil {
			return 1, fmt.Errorf("exec: %w", err)
		}
		p = &specs.Process{}
		if err := json.Unmarshal(data, p); err != nil {
			return 1, fmt.Errorf("exec: parse %s: %w", *processFile, err)
		}
	} else {
		if len(command) == 0 {
			return 2, errors.New("exec: a command is required (or --process)")
		}
		base, err := r.ContainerProcess(id)
		if err != nil {
			return 255, fmt.Errorf("exec failed: %w", err)
		}
		p = base
		p.Args = command
		p.Terminal = *tty
		p.Env = append(p.Env, env...)
		if *cwd != "" {
			p.Cwd = *cwd
		}
		if *nnp {
			p.NoNewPrivileges = true
		}
		if *user != "" {
			uid, gid, err := parseUser(*user)
			if err != nil {
				return 2, err
			}
			p.User.UID, p.User.GID = uid, gid
		}
		for _, g := range gids {
			n, err := strconv.ParseUint(g, 10, 32)
			if err != nil {
				return 2, fmt.Errorf("exec: --additional-gids %q: not a number", g)
			}
			p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(n))
		}
		if len(caps) > 0 {
			c := specs.LinuxCapabilities{}
			if p.Capabilities != nil {
				c = *p.Capabilities
			}
			c.Bounding = append(append([]string(nil), c.Bounding...), caps...)
			c.Effective = append(append([]string(nil), c.Effective...), caps...)
			c.Permitted = append(append([]string(nil), c.Permitted...), caps...)
			p.Capabilities = &c
		}
	}
	code, err := r.Exec(id, runtime.ExecOptions{Process: p, Detach: *detach, PidFile: *pidFile,
		ConsoleSocket: *consoleSocket, PreserveFDs: *preserve, IgnorePaused: *ignorePaused, SubCgroups: sub})
	if err != nil {
		// runc's status for an exec that did not run, whatever stopped
		// it: callers tell it from the process's own codes by it.
		return 255, fmt.Errorf("exec failed: %w", err)
	}
	return code, nil
}

// parseUser reads "uid" or "uid:gid" (numbers, as runc takes them).
func parseUser(s string) (uint32, uint32, error) {
	u, g, _ := strings.Cut(s, ":")
	uid, err := strconv.ParseUint(u, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("exec: --user %q: want uid[:gid]", s)
	}
	gid := uint64(0)
	if g != "" {
		if gid, err = strconv.ParseUint(g, 10, 32); err != nil {
			return 0, 0, fmt.Errorf("exec: --user %q: want uid[:gid]", s)
		}
	}
	return uint32(uid), uint32(gid), nil
}
