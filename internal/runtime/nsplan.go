package runtime

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/nsenter"
	"github.com/berth-project/berth/internal/state"
)

// nsPlan says who makes or joins each namespace of a container:
//   - new namespaces are clone flags of init, except cgroup and time,
//     which init unshares itself (cgroup after it was moved into its
//     cgroup; time so its offsets can be written before anything enters);
//   - ipc, uts, net, pid and cgroup namespaces to join are joined by a
//     locked parent thread just before the clone, which the child inherits
//     (allowed in a multithreaded process);
//   - user, mount and time namespaces to join need a single-threaded
//     caller: the nsenter constructor in the child joins those. When the
//     user namespace is joined, the constructor does all the joining and
//     unsharing (so new namespaces belong to the joined user namespace)
//     and forks once if the process must be PID 1 of a new PID namespace.
type nsPlan struct {
	cloneFlags  uintptr
	parentJoins []nsenter.Join
	childJoins  []nsenter.Join
	unshare     uintptr // done by the constructor
	fork        bool    // the constructor forks; init is its child
	newCgroupNS bool
	newTimeNS   bool
	inUserNS    bool
	newUserNS   bool
}

var cloneFlag = map[string]uintptr{
	"user": unix.CLONE_NEWUSER, "mnt": unix.CLONE_NEWNS, "pid": unix.CLONE_NEWPID,
	"net": unix.CLONE_NEWNET, "ipc": unix.CLONE_NEWIPC, "uts": unix.CLONE_NEWUTS,
	"cgroup": unix.CLONE_NEWCGROUP, "time": unix.CLONE_NEWTIME,
}

func planNamespaces(l *specs.Linux) (*nsPlan, error) {
	p := &nsPlan{}
	newNS := map[string]bool{}
	joins := map[string]string{}
	for _, ns := range l.Namespaces {
		t := namespaceTypes[ns.Type]
		if ns.Path == "" {
			newNS[t] = true
		} else {
			joins[t] = ns.Path
		}
	}
	// A runtime in a user namespace (rootless) cannot mknod either.
	p.inUserNS = newNS["user"] || joins["user"] != "" || state.InUserNamespace()
	p.newUserNS = newNS["user"]
	p.newCgroupNS = newNS["cgroup"]
	p.newTimeNS = newNS["time"]
	order := []string{"user", "ipc", "uts", "net", "pid", "cgroup", "time", "mnt"}

	if joins["user"] != "" {
		if len(l.UIDMappings) > 0 || len(l.GIDMappings) > 0 {
			return nil, errors.New("config.json: uidMappings/gidMappings cannot be combined with a user namespace path")
		}
		for _, t := range order {
			if path := joins[t]; path != "" {
				p.childJoins = append(p.childJoins, nsenter.Join{Type: t, Path: path})
			}
			if newNS[t] && t != "cgroup" && t != "time" {
				p.unshare |= cloneFlag[t]
			}
		}
		p.fork = newNS["pid"] || joins["pid"] != ""
		return p, nil
	}
	for _, t := range order {
		path := joins[t]
		switch {
		case path != "" && (t == "mnt" || t == "time"):
			if p.newUserNS {
				return nil, fmt.Errorf("config.json: cannot join the %s namespace %s while creating a user namespace", t, path)
			}
			p.childJoins = append(p.childJoins, nsenter.Join{Type: t, Path: path})
		case path != "":
			p.parentJoins = append(p.parentJoins, nsenter.Join{Type: t, Path: path})
		case newNS[t] && t != "cgroup" && t != "time":
			p.cloneFlags |= cloneFlag[t]
		}
	}
	return p, nil
}

// needsConstructor tells whether init must start with the C joiner.
func (p *nsPlan) needsConstructor() bool { return len(p.childJoins) > 0 || p.unshare != 0 || p.fork }
