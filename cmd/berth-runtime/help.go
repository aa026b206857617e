package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-project/berth/internal/runtime"
)

// command is one verb in the help: runc's verbs, with runc's help
// layout, since tools and people that call runc read it.
type command struct {
	name, args, short string
}

var commands = []command{
	{"checkpoint", "<container-id>", "checkpoint a running container (not supported: no CRIU integration)"},
	{"create", "<container-id>", "create a container from a bundle (it waits for start)"},
	{"delete", "<container-id>", "delete a container (--force: kill it first)"},
	{"events", "<container-id>", "resource statistics (--stats: once; else every --interval) and OOM kills, as JSON lines"},
	{"exec", "<container-id> <command> [command options]", "run a process in a created or running container"},
	{"features", "", "print the runtime's features as JSON"},
	{"kill", "<container-id> [signal]", "send a signal to a container's init (--all: to every process)"},
	{"list", "", "list containers"},
	{"pause", "<container-id>", "freeze every process of a container"},
	{"ps", "<container-id> [ps options]", "the container's processes (--format table|json, then ps(1) options)"},
	{"restore", "<container-id>", "restore a checkpointed container (not supported: no CRIU integration)"},
	{"resume", "<container-id>", "thaw a paused container"},
	{"run", "<container-id>", "create and start a container, then wait for it"},
	{"spec", "", "write a new config.json, runc's template"},
	{"start", "<container-id>", "start a created container"},
	{"state", "<container-id>", "print a container's state as JSON"},
	{"update", "<container-id>", "change a container's resources (flags as runc's, or -r resources.json)"},
	{"version", "", "print the version"},
}

const globalOptions = `   --root DIR          state directory (default $BERTH_ROOT, else /run/berth)
   --log FILE          write the log to FILE (errors also to stderr)
   --log-format text|json
   --debug             log the steps too
   --help, -h          show help
   --version, -v       print the version
`

// progName is the name this binary was called by: berth-runtime, or
// runc where it is installed in runc's place.
func progName() string { return filepath.Base(os.Args[0]) }

func printHelp(w io.Writer) {
	n := progName()
	fmt.Fprintf(w, "NAME:\n   %s - Open Container Initiative runtime (berth-runtime %s)\n\n", n, runtime.Version)
	fmt.Fprintf(w, "USAGE:\n   %s [global options] command [command options] [arguments...]\n\nCOMMANDS:\n", n)
	for _, c := range commands {
		fmt.Fprintf(w, "   %-11s%s\n", c.name, c.short)
	}
	fmt.Fprintf(w, "\nGLOBAL OPTIONS:\n%s", globalOptions)
}

// commandHelp prints a verb's help; false for a verb there is none.
func commandHelp(w io.Writer, name string) bool {
	for _, c := range commands {
		if c.name == name {
			n := progName()
			fmt.Fprintf(w, "NAME:\n   %s %s - %s\n\nUSAGE:\n   %s %s [command options] %s\n", n, c.name, c.short, n, c.name, c.args)
			return true
		}
	}
	return false
}

// wantsHelp reports a -h or --help among a verb's leading options (not
// in an exec'd command's arguments).
func wantsHelp(args []string) bool {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") || a == "--" {
			return false
		}
		if a == "-h" || a == "--help" || a == "-help" {
			return true
		}
	}
	return false
}

// printVersion prints runc's three lines.
func printVersion(w io.Writer) {
	fmt.Fprintf(w, "%s version %s\ncommit: berth-runtime %s\nspec: %s\n", progName(), runtime.Version, runtime.Version, specVersion())
}
