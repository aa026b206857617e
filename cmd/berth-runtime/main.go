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
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	_ "github.com/berth-project/berth/internal/nsenter" // joins namespaces before Go starts
	"github.com/berth-project/berth/internal/runtime"
	"github.com/berth-project/berth/internal/runtime/initproc"
)

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
		fmt.Fprintf(os.Stderr, "berth-runtime: %v (see %s --help)\n", err, progName())
		return 2
	}
	if *help {
		printHelp(os.Stdout)
		return 0
	}
	if *version {
		printVersion(os.Stdout)
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
		printHelp(os.Stderr)
		return 2
	}
	cmd, cargs := rest[0], rest[1:]
	if wantsHelp(cargs) {
		if !commandHelp(os.Stdout, cmd) {
			fmt.Fprintf(os.Stderr, "No help topic for '%s'\n", cmd)
			return 3
		}
		return 0
	}
	code, err := a.dispatch(cmd, cargs)
	if err != nil {
		a.logf("error", "%v", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// logf logs one line as runc does. With --log, every line goes to the
// log file in the chosen format (containerd reads the last error from a
// json log) and an error to stderr too; without it, to stderr: errors
// and warnings as "berth-runtime: …", debug lines (--debug) as logrus's
// text records, which tools written for runc look for.
func (a *app) logf(level, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if level == "debug" && !a.debug {
		return
	}
	if a.log == nil {
		if level == "debug" {
			fmt.Fprint(os.Stderr, a.record(level, msg))
			return
		}
		fmt.Fprintf(os.Stderr, "berth-runtime: %s\n", msg)
		return
	}
	if level == "error" {
		fmt.Fprintf(os.Stderr, "berth-runtime: %s\n", msg)
	}
	_, _ = io.WriteString(a.log, a.record(level, msg)) // the log is best effort: a runtime does not fail on it
}

// record is one log line in the --log-format.
func (a *app) record(level, msg string) string {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if a.logFormat == "json" {
		b, _ := json.Marshal(map[string]string{"level": level, "msg": msg, "time": now}) // strings: always encodable
		return string(b) + "\n"
	}
	return fmt.Sprintf("time=%q level=%s msg=%q\n", now, level, msg)
}

func (a *app) runtime() *runtime.Runtime {
	r := runtime.New(a.root)
	r.Warnf = func(f string, args ...any) { a.logf("warning", f, args...) }
	r.Debugf = func(f string, args ...any) { a.logf("debug", f, args...) }
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
		printVersion(os.Stdout)
		return 0, nil
	case "help":
		if len(args) > 0 {
			if !commandHelp(os.Stdout, args[0]) {
				return 3, fmt.Errorf("No help topic for '%s'", args[0])
			}
			return 0, nil
		}
		printHelp(os.Stdout)
		return 0, nil
	case "checkpoint", "restore":
		return checkpointCmd(cmd, args)
	}
	return 2, fmt.Errorf("unknown command %q (see berth-runtime --help)", cmd)
}

// checkpointCmd takes runc's checkpoint and restore options, checks
// what can be checked without CRIU, and then says that there is none.
func checkpointCmd(cmd string, args []string) (int, error) {
	fs := flags(cmd)
	imagePath := fs.String("image-path", "", "")
	fs.String("work-path", "", "")
	parentPath := fs.String("parent-path", "", "")
	for _, b := range []string{"leave-running", "tcp-established", "ext-unix-sk", "shell-job", "lazy-pages", "file-locks", "pre-dump", "auto-dedup", "detach", "d", "no-subreaper", "no-pivot"} {
		fs.Bool(b, false, "")
	}
	for _, s := range []string{"page-server", "status-fd", "manage-cgroups-mode", "empty-ns", "bundle", "b", "console-socket", "pid-file", "lsm-profile", "lsm-mount-context"} {
		fs.String(s, "", "")
	}
	if _, err := parse(fs, args); err != nil {
		return 2, err
	}
	if p := *parentPath; p != "" {
		if filepath.IsAbs(p) {
			return 1, fmt.Errorf("%s: --parent-path %s must be relative to --image-path", cmd, p)
		}
		if _, err := os.Stat(filepath.Join(*imagePath, p)); err != nil {
			return 1, fmt.Errorf("%s: invalid --parent-path %s: %w", cmd, p, err)
		}
	}
	return 1, fmt.Errorf("%s is not supported: berth-runtime has no CRIU integration", cmd)
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
		fs.BoolVar(&o.Keep, "keep", false, "")
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
			Owner       string            `json:"owner"`
		}
		// The owner is the caller's: state lives under the caller's root.
		owner := strconv.Itoa(os.Getuid())
		if u, err := user.LookupId(owner); err == nil {
			owner = u.Username
		}
		rows := []row{}
		for _, s := range all {
			rows = append(rows, row{s.State.Version, s.State.ID, s.State.Pid, string(s.State.Status), s.State.Bundle, s.Rootfs, s.Created, s.State.Annotations, owner})
		}
		// One line, as runc writes it: callers read it line by line.
		b, err := json.Marshal(rows)
		if err != nil {
			return 1, err
		}
		_, err = fmt.Printf("%s\n", b)
		return 0, err
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
