// Command berth is the engine's command line, with Docker's verbs and
// flags. It is thin: every verb parses its flags and calls the engine
// packages (internal/image, and the runtime in-process).
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/idmap"
	_ "github.com/berth-project/berth/internal/nsenter" // joins namespaces before Go starts
	"github.com/berth-project/berth/internal/runtime"
	"github.com/berth-project/berth/internal/runtime/initproc"
	"github.com/berth-project/berth/internal/tinyinit"
	"github.com/berth-project/berth/internal/trace"
)

// Exit codes as Docker's CLI: 125 when berth itself fails on the
// command line.
const exitUsage = 125

// globals are the flags every command shares.
type globals struct {
	root     string // images, containers: /var/lib/berth
	runRoot  string // runtime state: /run/berth
	logLevel string
}

// exitError carries a status without printing anything more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	if initproc.IsInit(os.Args[0]) {
		initproc.Main()
	}
	if engine.IsMonitor(os.Args[0]) {
		engine.MonitorMain()
	}
	if os.Args[0] == idmap.HolderArg0 {
		idmap.HolderMain()
	}
	if os.Args[0] == container.InitPath {
		tinyinit.Main(os.Args[1:])
	}
	if os.Args[0] == nsEnterArg0 {
		nsEnterExec(os.Args[1:])
	}
	trace.Phase("cli", "main")
	code := run(os.Args[1:])
	trace.Phase("cli", "exit")
	os.Exit(code)
}

func run(args []string) int {
	g := &globals{}
	root := newRoot(g)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var re runError
	if errors.As(err, &re) {
		fmt.Fprintln(os.Stderr, "berth: "+oneLine(re.err))
		return re.code
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

func isUsage(err error) bool {
	var u usageError
	if errors.As(err, &u) {
		return true
	}
	// cobra's own flag and argument errors.
	s := err.Error()
	return strings.HasPrefix(s, "unknown flag") || strings.HasPrefix(s, "unknown shorthand") ||
		strings.HasPrefix(s, "unknown command") || strings.Contains(s, "flag needs an argument") ||
		strings.HasPrefix(s, "invalid argument") || strings.Contains(s, "arg(s), received")
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

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "berth",
		Short:         "A container engine: Docker's command line, no daemon",
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       fmt.Sprintf("%s (OCI runtime spec %s)", runtime.Version, runtime.SpecVersion()),
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.root, "root", defaultRoot(), "storage root: images, containers ($BERTH_STORAGE)")
	pf.StringVar(&g.runRoot, "runroot", defaultRunRoot(), "runtime state root ($BERTH_ROOT)")
	pf.StringVar(&g.logLevel, "log-level", "info", "log level (debug, info, warn, error)")
	root.AddCommand(
		&cobra.Command{
			Use:   "version",
			Short: "Show the version",
			Args:  cobra.NoArgs,
			Run: func(*cobra.Command, []string) {
				fmt.Printf("berth version %s (OCI runtime spec %s)\n", runtime.Version, runtime.SpecVersion())
			},
		},
		&cobra.Command{
			Use:                "ns",
			Short:              "Namespaces: ls (like lsns), enter (like nsenter), persist",
			DisableFlagParsing: true,
			RunE: func(_ *cobra.Command, args []string) error {
				if code := nsMain(args); code != 0 {
					return exitError{code}
				}
				return nil
			},
		},
	)
	addImageCommands(root, g)
	containerCmd := &cobra.Command{Use: "container", Short: "Manage containers"}
	containerCmd.AddCommand(createCommand(g), startCommand(g), psCommand(g), logsCommand(g), stopCommand(g),
		killCommand(g), rmCommand(g), waitCommand(g), execCommand(g), inspectCommand(g, "inspect", "container"),
		pauseCommand(g, true), pauseCommand(g, false), renameCommand(g), topCommand(g), statsCommand(g),
		containerPruneCommand(g), exportCommand(g), cpCommand(g), runCommand(g), attachCommand(g), restartCommand(g),
		diffCommand(g), commitCommand(g), portCommand(g))
	root.AddCommand(containerCmd, runCommand(g), createCommand(g), startCommand(g), psCommand(g), logsCommand(g),
		stopCommand(g), killCommand(g), rmCommand(g), waitCommand(g), execCommand(g), pauseCommand(g, true),
		pauseCommand(g, false), renameCommand(g), topCommand(g), statsCommand(g), exportCommand(g), cpCommand(g),
		attachCommand(g), restartCommand(g), diffCommand(g), commitCommand(g), volumeCommand(g), networkCommand(g), portCommand(g))
	return root
}
