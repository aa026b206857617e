// Package tinyinit is --init's PID 1: it runs the container's command
// as its child, forwards the signals it gets to it, reaps every zombie
// re-parented to it, and exits with the command's status. A program
// that was never written to be PID 1 then gets Ctrl-C and SIGTERM as it
// would on a host, and leaves no zombies.
package tinyinit

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"

	"golang.org/x/sys/unix"
)

// Main runs args ("--", command...) and never returns. With cgo, the C
// constructor (tinyinit.c) does this before Go starts, so Main is the
// fallback of a build without cgo.
func Main(args []string) {
	if len(args) == 1 && args[0] == PauseArg {
		pause()
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "init: no command")
		os.Exit(127)
	}
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs)
	path, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "init: %s: %v\n", args[0], err)
		os.Exit(127)
	}
	// The child gets its own process group and the terminal's
	// foreground, so ^C on a tty reaches it as it would on a host.
	cmd := exec.Command(path, args[1:]...)
	cmd.Args[0] = args[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &unix.SysProcAttr{Setpgid: true, Foreground: isTerminal(0), Ctty: 0}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "init: %s: %v\n", args[0], err)
		os.Exit(126)
	}
	child := cmd.Process.Pid
	for s := range sigs {
		sig := s.(unix.Signal)
		if sig != unix.SIGCHLD {
			if sig == unix.SIGTTIN || sig == unix.SIGTTOU || sig == unix.SIGURG || sig == unix.SIGWINCH && !isTerminal(0) {
				continue
			}
			unix.Kill(-child, sig) // the whole group, as a shell's job control would
			continue
		}
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if err != nil || pid <= 0 {
				break
			}
			if pid != child {
				continue
			}
			if ws.Signaled() {
				os.Exit(128 + int(ws.Signal()))
			}
			os.Exit(ws.ExitStatus())
		}
	}
}

// PauseArg makes init a pod's pause process (init --pause): it runs no
// command, holds the pod's namespaces, reaps what is re-parented to it,
// and ends with 0 at SIGTERM or SIGINT.
const PauseArg = "--pause"

func pause() {
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGCHLD)
	for s := range sigs {
		if s != unix.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := unix.Wait4(-1, nil, unix.WNOHANG, nil)
			if err != nil || pid <= 0 {
				break
			}
		}
	}
}

func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}
