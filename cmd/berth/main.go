// Command berth is the engine's command line (Docker's verbs). Until the
// engine lands it offers `berth runtime ...`, the OCI runtime in the same
// binary, and `berth version`.
package main

import (
	"fmt"
	"os"

	_ "github.com/berth-project/berth/internal/nsenter" // joins namespaces before Go starts
	"github.com/berth-project/berth/internal/runtime"
	"github.com/berth-project/berth/internal/runtime/initproc"
)

const usage = `usage: berth COMMAND

Commands:
  version   print the version
  ns        namespaces: ls (like lsns), enter (like nsenter), persist
  runtime   the OCI runtime (same as berth-runtime)

The engine verbs (run, ps, exec, images, ...) arrive with the engine.
`

func main() {
	if initproc.IsInit(os.Args[0]) {
		initproc.Main()
	}
	if os.Args[0] == nsEnterArg0 {
		nsEnterExec(os.Args[1:])
	}
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "version", "--version", "-v":
		fmt.Printf("berth version %s (OCI runtime spec %s)\n", runtime.Version, runtime.SpecVersion())
	case "help", "--help", "-h":
		fmt.Print(usage)
	case "ns":
		os.Exit(nsMain(os.Args[2:]))
	case "runtime":
		fmt.Fprintln(os.Stderr, "berth: use berth-runtime for now; the engine will call the runtime in-process")
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "berth: unknown command %q (see berth --help)\n", os.Args[1])
		os.Exit(2)
	}
}
