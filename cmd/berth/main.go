// Command berth is the engine's command line, with Docker's verbs and
// flags. It is thin: every verb parses its flags into the engine's
// typed options, calls the engine (internal/engine) and prints what it
// returns (internal/format). It reaches nothing below the engine; `berth
// ns` is a tool of its own (internal/nstool), and `berth build` the
// builder (internal/build), a front end over the engine itself.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	goruntime "runtime"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/api"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/nstool"
)

// Exit codes as Docker's CLI: 125 when berth itself fails on the
// command line.
const exitUsage = 125

// globals are the flags every command shares.
type globals struct {
	root     string // images, containers: /var/lib/berth
	runRoot  string // runtime state: /run/berth
	logLevel string
	cdiDirs  []string // where CDI specs are (nil: /etc/cdi, /var/run/cdi)
	mirrors  map[string]string
}

// engine opens the engine for one command: this process ends with it.
func (g *globals) engine() (*engine.Engine, error) {
	return engine.OpenWith(g.root, g.runRoot, engine.Options{OneShot: true, CDISpecDirs: g.cdiDirs, RegistryMirrors: g.mirrors})
}

// with opens the engine and runs fn on it.
func (g *globals) with(fn func(*engine.Engine) error) error {
	e, err := g.engine()
	if err != nil {
		return err
	}
	return fn(e)
}

// exitError carries a status without printing anything more.
type exitError struct{ code int }

// detached is how attach and exec end when the user types the detach
// keys, in the docker CLI's words: a message and 1 (a detached run or
// start -a ends quietly with 0).
func detached() error {
	fmt.Fprintln(os.Stderr, "read escape sequence")
	return exitError{1}
}

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	engine.HelperMain()
	nstool.ReexecMain()
	// An unprivileged user's command runs in the user's namespaces,
	// where the engine is root over the user's ids; Enter returns only
	// for root or with the reason it could not.
	if err := engine.EnterRootless(func(w string) { fmt.Fprintln(os.Stderr, "berth: warning: "+w) }); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", oneLine(err))
		os.Exit(1)
	}
	code := run(os.Args[1:])
	engine.Trace("cli", "exit")
	os.Exit(code)
}

func run(args []string) int {
	g := &globals{}
	root := rootFor(g, args)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var se *engine.StatusError
	if errors.As(err, &se) {
		fmt.Fprintln(os.Stderr, "berth: "+oneLine(se.Err))
		return se.Status
	}
	fmt.Fprintln(os.Stderr, "Error:", oneLine(err))
	if isUsage(err) {
		return exitUsage
	}
	return 1
}

// oneLine keeps an error to one line, as DESIGN asks.
func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
}

type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

func isUsage(err error) bool {
	// The engine's ErrInvalid is not one: Docker's CLI exits 1 for what
	// the daemon refuses, and 125 only for its own flags (run and create
	// carry their 125 in a StatusError).
	var u usageError
	if errors.As(err, &u) {
		return true
	}
	// cobra's own flag and argument errors; an unknown command is 1, as
	// Docker's.
	s := err.Error()
	return strings.HasPrefix(s, "unknown flag") || strings.HasPrefix(s, "unknown shorthand") ||
		strings.Contains(s, "flag needs an argument") ||
		strings.HasPrefix(s, "invalid argument") || strings.Contains(s, "arg(s), received")
}

// interruptible is a context that ends on SIGINT or SIGTERM, so an
// interrupted pull cleans up after itself.
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func defaultRoot() string {
	if v := os.Getenv("BERTH_STORAGE"); v != "" {
		return v
	}
	if os.Geteuid() != 0 {
		if d := os.Getenv("XDG_DATA_HOME"); d != "" {
			return d + "/berth"
		}
		if h, err := os.UserHomeDir(); err == nil {
			return h + "/.local/share/berth"
		}
	}
	return "/var/lib/berth"
}

func defaultRunRoot() string {
	if v := os.Getenv("BERTH_ROOT"); v != "" {
		return v
	}
	if os.Geteuid() != 0 {
		if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
			return d + "/berth"
		}
	}
	return "/run/berth"
}

func versionLine() string {
	return fmt.Sprintf("%s (OCI runtime spec %s)", engine.Version, engine.SpecVersion())
}

// versionInfo is version's template data, in the shape of Docker's
// (berth has no daemon: the engine the CLI runs is the server).
type versionInfo struct {
	Client, Server versionPart
}

type versionPart struct {
	Version, APIVersion, GoVersion, Os, Arch string
}

func versionCommand() *cobra.Command {
	var tmpl string
	c := &cobra.Command{
		Use:   "version",
		Short: "Show the version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if tmpl == "" {
				fmt.Println("berth version " + versionLine())
				return nil
			}
			part := versionPart{Version: engine.Version, APIVersion: api.APIVersion, GoVersion: goruntime.Version(), Os: goruntime.GOOS, Arch: goruntime.GOARCH}
			return printTemplate(tmpl, []versionInfo{{Client: part, Server: part}})
		},
	}
	c.Flags().StringVarP(&tmpl, "format", "f", "", "Go template ({{.Client.Version}}, {{.Server.APIVersion}}, ...)")
	return c
}

// hotVerbs are the verbs a script or a front end runs most, built alone
// when the command line names one: the whole tree of ~100 commands and
// ~800 flags costs about a millisecond of every start.
var hotVerbs = map[string]func(*globals) *cobra.Command{
	"run": runCommand, "create": createCommand, "start": startCommand, "exec": execCommand,
	"stop": stopCommand, "kill": killCommand, "rm": rmCommand, "wait": waitCommand, "logs": logsCommand,
}

// rootFor is newRoot, or a root with only the verb args name, when it is
// a hot one (its help, flags and errors are the same either way).
func rootFor(g *globals, args []string) *cobra.Command {
	rest := globalFlagsSkipped(args)
	if len(rest) == 0 {
		return newRoot(g)
	}
	verb, ok := hotVerbs[rest[0]]
	if !ok {
		return newRoot(g)
	}
	root := newRootOnly(g)
	root.AddCommand(verb(g))
	addCompletions(root, g)
	return root
}

// globalFlagsSkipped is args past the global flags before the verb, as
// written (berth --root DIR run ...); nil when a flag there is not one
// of them (the whole tree then parses it).
func globalFlagsSkipped(args []string) []string {
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		name, _, hasValue := strings.Cut(args[0], "=")
		switch name {
		case "--root", "--runroot", "--log-level", "--cdi-spec-dir", "--registry-mirror":
		default:
			return nil
		}
		args = args[1:]
		if !hasValue {
			if len(args) == 0 {
				return nil
			}
			args = args[1:]
		}
	}
	return args
}

func newRoot(g *globals) *cobra.Command {
	root := newRootOnly(g)
	root.AddCommand(versionCommand(), nsCommand(g))
	addImageCommands(root, g)
	addSystemCommands(root, g)
	containerCmd := &cobra.Command{Use: "container", Short: "Manage containers"}
	containerCmd.AddCommand(containerCommands(g, true)...)
	root.AddCommand(containerCmd)
	root.AddCommand(containerCommands(g, false)...)
	root.AddCommand(volumeCommand(g), networkCommand(g), buildCommand(g), builderCommand(g), contextCommand(), criCommand(g))
	strictGroups(root)
	addCompletions(root, g)
	return root
}

// newRootOnly is the root command with the global flags and no verbs.
func newRootOnly(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "berth",
		Short:         "A container engine: Docker's command line, no daemon",
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       versionLine(),
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.root, "root", defaultRoot(), "storage root: images, containers ($BERTH_STORAGE)")
	pf.StringVar(&g.runRoot, "runroot", defaultRunRoot(), "runtime state root ($BERTH_ROOT)")
	pf.StringVar(&g.logLevel, "log-level", "info", "log level (debug, info, warn, error)")
	pf.StringArrayVar(&g.cdiDirs, "cdi-spec-dir", nil, "a directory of CDI specs, instead of /etc/cdi and /var/run/cdi (repeatable)")
	pf.StringToStringVar(&g.mirrors, "registry-mirror", nil, "REGISTRY=MIRROR: pulls from REGISTRY try MIRROR first (repeatable)")
	return root
}

// strictGroups makes each command group (container, image, network, …)
// refuse a subcommand it does not have, as Docker's does, and print its
// help when given none; cobra would print the help and exit 0 either
// way.
func strictGroups(c *cobra.Command) {
	for _, sub := range c.Commands() {
		strictGroups(sub)
	}
	if c.HasParent() && c.HasSubCommands() && c.Run == nil && c.RunE == nil {
		c.Args = cobra.NoArgs // "unknown command "x" for "berth image""
		c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	}
}

// nsCommand is `berth ns`, the namespace tools (internal/nstool), over
// the engine's containers too. Its flags are its own; the global ones
// before it (berth --root DIR ns ls) are read here, as cobra hands them
// over with the rest.
func nsCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:                "ns",
		Short:              "Namespaces: ls (like lsns), enter (like nsenter), persist",
		DisableFlagParsing: true,
		RunE: func(_ *cobra.Command, args []string) error {
			args = g.takeGlobals(args)
			cs := nstool.Containers{}
			if e, err := g.engine(); err == nil { // no engine here: berth-runtime's containers only
				cs.Running = func() map[string]int {
					out := map[string]int{}
					list, err := e.ContainerList(engine.ListOptions{})
					if err != nil {
						return out
					}
					for _, c := range list {
						if in, err := e.ContainerInspect(c.ID); err == nil && in.State != nil && in.State.Pid > 0 {
							out[strings.TrimPrefix(in.Name, "/")] = in.State.Pid
						}
					}
					return out
				}
				cs.Find = func(ref string) (int, error) {
					in, err := e.ContainerInspect(ref)
					if err != nil {
						return 0, err
					}
					if in.State == nil || !in.State.Running {
						return 0, fmt.Errorf("container %s is not running", ref)
					}
					return in.State.Pid, nil
				}
			}
			if code := nstool.Main(args, cs); code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
}

// takeGlobals reads the global flags at the front of args (--root,
// --runroot, --log-level, as --flag VALUE or --flag=VALUE) and returns
// the rest.
func (g *globals) takeGlobals(args []string) []string {
	for len(args) > 0 {
		name, value, hasValue := strings.Cut(args[0], "=")
		var dst *string
		switch name {
		case "--root":
			dst = &g.root
		case "--runroot":
			dst = &g.runRoot
		case "--log-level":
			dst = &g.logLevel
		default:
			return args
		}
		if !hasValue {
			if len(args) < 2 {
				return args
			}
			value, args = args[1], args[1:]
		}
		*dst, args = value, args[1:]
	}
	return args
}

// containerCommands are the container verbs, under `container` and at
// the top.
func containerCommands(g *globals, grouped bool) []*cobra.Command {
	cmds := []*cobra.Command{runCommand(g), createCommand(g), startCommand(g), psCommand(g), logsCommand(g),
		stopCommand(g), killCommand(g), rmCommand(g), waitCommand(g), execCommand(g), pauseCommand(g, true),
		pauseCommand(g, false), renameCommand(g), topCommand(g), statsCommand(g), exportCommand(g), cpCommand(g),
		attachCommand(g), restartCommand(g), diffCommand(g), commitCommand(g), portCommand(g), updateCommand(g)}
	if grouped {
		cmds = append(cmds, inspectCommand(g, "inspect", "container"), containerPruneCommand(g))
	}
	return cmds
}
