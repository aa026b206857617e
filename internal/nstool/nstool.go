// Package nstool is `berth ns`: namespaces listed as lsns does (with
// the berth container that owns each), entered as nsenter does, and
// kept alive on a file. It is a tool of its own in the berth binary,
// over the kernel's namespaces; the engine's containers reach it through
// Containers, which the CLI gives it, and berth-runtime's through the
// runtime's state.
package nstool

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/berth-project/berth/internal/namespaces"
	"github.com/berth-project/berth/internal/nsenter"
	"github.com/berth-project/berth/internal/runtime"
)

// nsEnterArg0 marks the re-executed berth that the nsenter constructor has
// already moved into the target's namespaces.
const nsEnterArg0 = "berth:[nsenter]"

const nsUsage = `usage: berth ns COMMAND
  ls [-t TYPE] [--root DIR]                 namespaces, like lsns, with the berth container owning each
  enter (--target PID | --container ID) [--mount --uts --ipc --net --pid --user --cgroup --time | --all] -- CMD...
  persist --target PID --net|--ipc|--uts|... PATH   keep a namespace alive on a file
  persist --remove PATH                      undo it
`

// Containers are the engine's, as ns sees them; nil funcs: none.
type Containers struct {
	// Running are the running containers' inits by name.
	Running func() map[string]int
	// Find resolves a name, ID or unique ID prefix to a running
	// container's init.
	Find func(ref string) (pid int, err error)
}

// Main runs `berth ns ARGS` and returns its exit status.
func Main(args []string, cs Containers) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, nsUsage)
		return 2
	}
	var err error
	code := 0
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Print(nsUsage)
		return 0
	case "ls":
		err = nsList(args[1:], cs)
	case "enter":
		code, err = nsEnter(args[1:], cs)
	case "persist":
		err = nsPersist(args[1:], cs)
	default:
		err = fmt.Errorf("ns: unknown command %q\n%s", args[0], nsUsage)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "berth: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func nsFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// containerInodes maps namespace inodes to the berth containers whose init
// is in them.
func containerInodes(root string, cs Containers) map[uint64]string {
	out := map[uint64]string{}
	if cs.Running != nil {
		for name, pid := range cs.Running() {
			for _, t := range namespaces.Types {
				if ino, err := namespaces.Inode(pid, t); err == nil {
					out[ino] = name
				}
			}
		}
	}
	all, err := runtime.New(root).List()
	if err != nil {
		return out
	}
	for _, s := range all {
		if s.State.Status == "stopped" {
			continue
		}
		for _, t := range namespaces.Types {
			if ino, err := namespaces.Inode(s.State.Pid, t); err == nil && out[ino] == "" {
				out[ino] = s.State.ID // an engine container's name wins over its runtime ID
			}
		}
	}
	return out
}

func nsList(args []string, cs Containers) error {
	fs := nsFlags("ns ls")
	typ := fs.String("t", "", "")
	fs.StringVar(typ, "type", "", "")
	root := fs.String("root", runtime.DefaultRoot, "")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("ns ls: %w", err)
	}
	var types []string
	if *typ != "" {
		types = strings.Split(*typ, ",")
	}
	nss, err := namespaces.List(types)
	if err != nil {
		return err
	}
	owners := containerInodes(*root, cs)
	// The host's own namespaces are nobody's container.
	for _, t := range namespaces.Types {
		if ino, err := namespaces.Inode(1, t); err == nil {
			delete(owners, ino)
		}
	}
	w := tabwriter.NewWriter(os.Stdout, 4, 1, 2, ' ', 0)
	_, _ = fmt.Fprintln(w, "NS\tTYPE\tNPROCS\tPID\tUSER\tCONTAINER\tCOMMAND") // a tabwriter: its Flush reports
	for _, ns := range nss {
		name := strconv.Itoa(ns.UID)
		if u, err := user.LookupId(name); err == nil {
			name = u.Username
		}
		_, _ = fmt.Fprintf(w, "%d\t%s\t%d\t%d\t%s\t%s\t%s\n", ns.Inode, ns.Type, ns.NProcs, ns.Pid, name, orDash(owners[ns.Inode]), ns.Command) // as above
	}
	return w.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// targetPid resolves --target or --container: an engine container by
// name, ID or prefix, else a berth-runtime container by ID.
func targetPid(pid int, container, root string, cs Containers) (int, error) {
	if container == "" {
		if pid <= 0 {
			return 0, errors.New("--target PID or --container ID is required")
		}
		return pid, nil
	}
	if cs.Find != nil {
		if pid, err := cs.Find(container); err == nil {
			return pid, nil
		}
	}
	st, err := runtime.New(root).State(container)
	if err != nil {
		return 0, fmt.Errorf("no such container: %s", container)
	}
	if st.Status == "stopped" {
		return 0, fmt.Errorf("container %s is stopped", container)
	}
	return st.Pid, nil
}

func nsEnter(args []string, cs Containers) (int, error) {
	fs := nsFlags("ns enter")
	target := fs.Int("target", 0, "")
	fs.IntVar(target, "t", 0, "")
	container := fs.String("container", "", "")
	root := fs.String("root", runtime.DefaultRoot, "")
	all := fs.Bool("all", false, "")
	fs.BoolVar(all, "a", false, "")
	want := map[string]*bool{}
	for flagName, typ := range map[string]string{"mount": "mnt", "uts": "uts", "ipc": "ipc", "net": "net", "pid": "pid", "user": "user", "cgroup": "cgroup", "time": "time"} {
		want[typ] = fs.Bool(flagName, false, "")
	}
	if err := fs.Parse(args); err != nil {
		return 2, fmt.Errorf("ns enter: %w", err)
	}
	cmdArgs := fs.Args()
	if len(cmdArgs) == 0 {
		cmdArgs = []string{"/bin/sh"}
	}
	pid, err := targetPid(*target, *container, *root, cs)
	if err != nil {
		return 2, fmt.Errorf("ns enter: %w", err)
	}
	if !nsenter.Supported() {
		return 1, errors.New("ns enter needs a cgo build of berth")
	}
	var joins []nsenter.Join
	forkWait := false
	for _, t := range namespaces.Types {
		if !*all && !*want[t] {
			continue
		}
		theirs, err := namespaces.Inode(pid, t)
		if err != nil {
			return 1, fmt.Errorf("ns enter: %s namespace of %d: %w", t, pid, err)
		}
		// Already there (setns into one's own user namespace fails).
		if ours, _ := namespaces.Inode(os.Getpid(), t); ours == theirs {
			continue
		}
		joins = append(joins, nsenter.Join{Type: t, Path: "/proc/" + strconv.Itoa(pid) + "/ns/" + t})
		forkWait = forkWait || t == "pid"
	}
	enc, err := nsenter.Instruction{SyncFD: -1, ForkWait: forkWait, Joins: joins}.Encode()
	if err != nil {
		return 1, err
	}
	cmd := exec.Command("/proc/self/exe", cmdArgs...)
	cmd.Args[0] = nsEnterArg0
	cmd.Env = append(os.Environ(), enc)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), nil // the command's own status
		}
		return 1, fmt.Errorf("ns enter: %w", err)
	}
	return 0, nil
}

// nsEnterExec runs in the re-executed berth, inside the namespaces.
// ReexecMain runs the re-executed berth of `ns enter`, which the
// nsenter constructor moved into the target's namespaces already; it
// returns only when this process is not that one.
func ReexecMain() {
	if os.Args[0] == nsEnterArg0 {
		nsEnterExec(os.Args[1:])
	}
}

func nsEnterExec(args []string) {
	if len(args) == 0 {
		os.Exit(2)
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "berth: ns enter: %v\n", err)
		os.Exit(127)
	}
	err = syscall.Exec(path, args, os.Environ())
	fmt.Fprintf(os.Stderr, "berth: ns enter: exec %s: %v\n", path, err)
	os.Exit(126)
}

func nsPersist(args []string, cs Containers) error {
	fs := nsFlags("ns persist")
	target := fs.Int("target", 0, "")
	fs.IntVar(target, "t", 0, "")
	container := fs.String("container", "", "")
	root := fs.String("root", runtime.DefaultRoot, "")
	remove := fs.String("remove", "", "")
	paths := map[string]*string{}
	for _, t := range []string{"net", "ipc", "uts", "pid", "user", "cgroup", "time", "mnt"} {
		paths[t] = fs.String(t, "", "")
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("ns persist: %w", err)
	}
	if *remove != "" {
		return namespaces.Unpersist(*remove)
	}
	pid, err := targetPid(*target, *container, *root, cs)
	if err != nil {
		return fmt.Errorf("ns persist: %w", err)
	}
	done := 0
	for t, p := range paths {
		if *p == "" {
			continue
		}
		if err := namespaces.Persist(pid, t, *p); err != nil {
			return err
		}
		done++
	}
	if done == 0 {
		return errors.New("ns persist: name a namespace and a path, e.g. --net /run/netns/web")
	}
	return nil
}
