// Command berth-runtime is an OCI runtime with runc's command line, so
// that tools which drive runc (containerd, Podman, the OCI validation
// suite) can drive berth. It only parses flags; internal/runtime does the
// work.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	_ "github.com/berth-project/berth/internal/nsenter" // joins namespaces before Go starts
	"github.com/berth-project/berth/internal/runtime"
	"github.com/berth-project/berth/internal/runtime/initproc"
)

const usage = `usage: berth-runtime [global options] COMMAND [options] [args]

Commands:
  create    create a container from a bundle (waits for start)
  start     start a created container
  run       create and start a container, then wait for it
  state     print a container's state as JSON
  kill      send a signal to a container's init (--all: to every process)
  delete    delete a container (--force: kill it first)
  exec      run a process in a created or running container
  pause     freeze every process of a container
  resume    thaw a paused container
  ps        the container's processes (--format table|json, then ps(1) options)
  update    change a container's resources (flags as runc's, or -r resources.json)
  events    resource statistics (--stats: once; else every --interval) and OOM kills, as JSON lines
  list      list containers
  spec      write an example config.json
  features  print the runtime's features as JSON
  version   print the version

Global options:
  --root DIR          state directory (default $BERTH_ROOT, else /run/berth)
  --log FILE          also write errors and warnings to FILE
  --log-format text|json
  --debug             log more
`

// app holds the global options.
type app struct {
	root      string
	logFile   string
	logFormat string
	debug     bool
	log       io.Writer
}

func main() {
	if initproc.IsInit(os.Args[0]) {
		initproc.Main()
	}
	os.Exit(runMain(os.Args[1:]))
}

func runMain(args []string) int {
	a := &app{}
	fs := flag.NewFlagSet("berth-runtime", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	// BERTH_ROOT moves the state root for every invocation, also for
	// callers that cannot pass --root each time (a Podman cleanup).
	defRoot := runtime.DefaultRoot
	if r := os.Getenv("BERTH_ROOT"); r != "" {
		defRoot = r
	}
	fs.StringVar(&a.root, "root", defRoot, "")
	fs.StringVar(&a.logFile, "log", "", "")
	fs.StringVar(&a.logFormat, "log-format", "text", "")
	fs.BoolVar(&a.debug, "debug", false, "")
	// Accepted for compatibility with callers that pass runc's options.
	fs.Bool("systemd-cgroup", false, "")
	fs.String("rootless", "auto", "")
	fs.String("criu", "", "")
	help := fs.Bool("help", false, "")
	fs.BoolVar(help, "h", false, "")
	version := fs.Bool("version", false, "")
	fs.BoolVar(version, "v", false, "")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(os.Stderr, "berth-runtime: %v\n%s", err, usage)
		return 2
	}
	if *help {
		fmt.Print(usage)
		return 0
	}
	if *version {
		fmt.Printf("berth-runtime version %s\nspec: %s\n", runtime.Version, specVersion())
		return 0
	}
	if a.logFormat != "text" && a.logFormat != "json" {
		fmt.Fprintf(os.Stderr, "berth-runtime: invalid --log-format %q (text or json)\n", a.logFormat)
		return 2
	}
	if a.logFile != "" {
		f, err := os.OpenFile(a.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			fmt.Fprintf(os.Stderr, "berth-runtime: open log %s: %v\n", a.logFile, err)
			return 1
		}
		defer f.Close() // the log file; what it could not take is lost with it
		a.log = f
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	cmd, cargs := rest[0], rest[1:]
	code, err := a.dispatch(cmd, cargs)
	if err != nil {
		a.logf("error", "%v", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// logf writes one line to stderr and, with --log, to the log file in the
// chosen format (containerd reads the last error from a json log).
func (a *app) logf(level, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if level == "debug" && !a.debug {
		return
	}
	fmt.Fprintf(os.Stderr, "berth-runtime: %s\n", msg)
	if a.log == nil {
		return
	}
	if a.logFormat == "json" {
		b, _ := json.Marshal(map[string]string{"level": level, "msg": msg, "time": time.Now().UTC().Format(time.RFC3339Nano)})
		_, _ = fmt.Fprintf(a.log, "%s\n", b) // the log is best effort: a runtime does not fail on it
	} else {
		_, _ = fmt.Fprintf(a.log, "time=%q level=%s msg=%q\n", time.Now().UTC().Format(time.RFC3339Nano), level, msg) // as above
	}
}

func (a *app) runtime() *runtime.Runtime {
	r := runtime.New(a.root)
	r.Warnf = func(f string, args ...any) { a.logf("warning", f, args...) }
	return r
}

// flags returns a flag set for a subcommand that accepts -x and --x.
func flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses a subcommand's flags, allowing them after the id too
// (`kill --all ID` and `kill ID SIG` are both common).
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, fmt.Errorf("%s: %w", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func needID(cmd string, pos []string, max int) (string, error) {
	if len(pos) == 0 {
		return "", fmt.Errorf("%s: a container id is required", cmd)
	}
	if len(pos) > max {
		return "", fmt.Errorf("%s: unexpected arguments %s", cmd, strings.Join(pos[max:], " "))
	}
	return pos[0], nil
}

// idArgs parses a subcommand's flags and returns its container id and
// the positional arguments after it (at most max-1 of them).
func idArgs(fs *flag.FlagSet, args []string, max int) (string, []string, error) {
	pos, err := parse(fs, args)
	if err != nil {
		return "", nil, err
	}
	id, err := needID(fs.Name(), pos, max)
	if err != nil {
		return "", nil, err
	}
	return id, pos[1:], nil
}

func (a *app) dispatch(cmd string, args []string) (int, error) {
	switch cmd {
	case "create", "run":
		return a.createOrRun(cmd, args)
	case "start":
		id, _, err := idArgs(flags(cmd), args, 1)
		if err != nil {
			return 2, err
		}
		return 0, a.runtime().Start(id)
	case "state":
		id, _, err := idArgs(flags(cmd), args, 1)
		if err != nil {
			return 2, err
		}
		st, err := a.runtime().State(id)
		if err != nil {
			return 1, err
		}
		return 0, printJSON(st)
	case "kill":
		fs := flags("kill")
		all := fs.Bool("all", false, "")
		fs.BoolVar(all, "a", false, "")
		id, rest, err := idArgs(fs, args, 2)
		if err != nil {
			return 2, err
		}
		sigName := "SIGTERM"
		if len(rest) == 1 {
			sigName = rest[0]
		}
		sig, err := runtime.ParseSignal(sigName)
		if err != nil {
			return 2, err
		}
		return 0, a.runtime().Kill(id, sig, *all)
	case "delete":
		fs := flags("delete")
		force := fs.Bool("force", false, "")
		fs.BoolVar(force, "f", false, "")
		id, _, err := idArgs(fs, args, 1)
		if err != nil {
			return 2, err
		}
		err = a.runtime().Delete(id, *force)
		if *force && errors.Is(err, runtime.ErrNotExist) {
			return 0, nil // runc: delete --force of a missing container succeeds
		}
		return 0, err
	case "list":
		return a.list(args)
	case "ps":
		return a.psCmd(args)
	case "exec":
		return a.execCmd(args)
	case "update":
		return a.updateCmd(args)
	case "events":
		fs := flags(cmd)
		once := fs.Bool("stats", false, "")
		interval := fs.Duration("interval", 5*time.Second, "")
		id, _, err := idArgs(fs, args, 1)
		if err != nil {
			return 2, err
		}
		return 0, a.runtime().Events(id, *interval, *once, os.Stdout)
	case "pause", "resume":
		id, _, err := idArgs(flags(cmd), args, 1)
		if err != nil {
			return 2, err
		}
		if cmd == "pause" {
			return 0, a.runtime().Pause(id)
		}
		return 0, a.runtime().Resume(id)
	case "spec":
		return a.spec(args)
	case "features":
		return 0, printJSON(runtime.Features())
	case "version":
		fmt.Printf("berth-runtime version %s\nspec: %s\n", runtime.Version, specVersion())
		return 0, nil
	case "help":
		fmt.Print(usage)
		return 0, nil
	}
	return 2, fmt.Errorf("unknown command %q (see berth-runtime --help)", cmd)
}

func (a *app) createOrRun(cmd string, args []string) (int, error) {
	fs := flags(cmd)
	var o runtime.RunOptions
	fs.StringVar(&o.Bundle, "bundle", ".", "")
	fs.StringVar(&o.Bundle, "b", ".", "")
	fs.StringVar(&o.PidFile, "pid-file", "", "")
	fs.StringVar(&o.ConsoleSocket, "console-socket", "", "")
	fs.BoolVar(&o.NoPivot, "no-pivot", false, "")
	fs.IntVar(&o.PreserveFDs, "preserve-fds", 0, "")
	fs.BoolVar(&o.NoNewKeyring, "no-new-keyring", false, "")
	if cmd == "run" {
		fs.BoolVar(&o.Detach, "detach", false, "")
		fs.BoolVar(&o.Detach, "d", false, "")
	}
	id, _, err := idArgs(fs, args, 1)
	if err != nil {
		return 2, err
	}
	if o.PreserveFDs < 0 {
		return 2, fmt.Errorf("%s: --preserve-fds must not be negative", cmd)
	}
	r := a.runtime()
	if cmd == "create" {
		_, err := r.Create(id, o.CreateOptions)
		return 0, err
	}
	code, err := r.Run(id, o)
	if err != nil {
		return runtime.ExitCodeOf(err), err
	}
	return code, nil
}

func (a *app) list(args []string) (int, error) {
	fs := flags("list")
	format := fs.String("format", "table", "")
	fs.StringVar(format, "f", "table", "")
	quiet := fs.Bool("quiet", false, "")
	fs.BoolVar(quiet, "q", false, "")
	if _, err := parse(fs, args); err != nil {
		return 2, err
	}
	all, err := a.runtime().List()
	if err != nil {
		return 1, err
	}
	switch {
	case *quiet:
		for _, s := range all {
			fmt.Println(s.State.ID)
		}
	case *format == "json":
		type row struct {
			OCIVersion  string            `json:"ociVersion"`
			ID          string            `json:"id"`
			Pid         int               `json:"pid"`
			Status      string            `json:"status"`
			Bundle      string            `json:"bundle"`
			Rootfs      string            `json:"rootfs"`
			Created     time.Time         `json:"created"`
			Annotations map[string]string `json:"annotations,omitempty"`
		}
		rows := []row{}
		for _, s := range all {
			rows = append(rows, row{s.State.Version, s.State.ID, s.State.Pid, string(s.State.Status), s.State.Bundle, s.Rootfs, s.Created, s.State.Annotations})
		}
		return 0, printJSON(rows)
	case *format == "table":
		w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
		_, _ = fmt.Fprintln(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER") // a tabwriter: its Flush reports
		for _, s := range all {
			_, _ = fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\troot\n", s.State.ID, s.State.Pid, s.State.Status, s.State.Bundle, s.Created.Format(time.RFC3339Nano)) // as above
		}
		return 0, w.Flush()
	default:
		return 2, fmt.Errorf("list: invalid --format %q (table or json)", *format)
	}
	return 0, nil
}

func (a *app) spec(args []string) (int, error) {
	fs := flags("spec")
	bundle := fs.String("bundle", ".", "")
	fs.StringVar(bundle, "b", ".", "")
	rootless := fs.Bool("rootless", false, "")
	if _, err := parse(fs, args); err != nil {
		return 2, err
	}
	p := *bundle + "/config.json"
	if _, err := os.Stat(p); err == nil {
		return 1, fmt.Errorf("spec: %s already exists; remove it first", p)
	}
	s := runtime.ExampleSpec(*rootless, uint32(os.Getuid()), uint32(os.Getgid()))
	data, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return 1, err
	}
	if err := os.WriteFile(p, append(data, '\n'), 0o644); err != nil {
		return 1, fmt.Errorf("spec: %w", err)
	}
	return 0, nil
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func specVersion() string {
	return runtime.SpecVersion()
}
