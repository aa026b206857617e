// Command probe runs inside test containers and reports what the kernel
// lets it do: `probe euid` prints its effective uid; `probe syscalls`
// tries what a default-profile container must not do and prints
// "name=errno" for each ("name=ok" if it worked).
package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: probe euid|syscalls|keyring")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "euid":
		fmt.Println(unix.Geteuid())
	case "keyring":
		// The session keyring's description names who made it.
		id, err := unix.KeyctlInt(unix.KEYCTL_GET_KEYRING_ID, unix.KEY_SPEC_SESSION_KEYRING, 0, 0, 0)
		if err != nil {
			fmt.Println("error", err)
			return
		}
		desc, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, id)
		fmt.Println(desc, err)
	case "syscalls":
		try := func(name string, err error) {
			if err == nil {
				fmt.Printf("%s=ok\n", name)
				return
			}
			fmt.Printf("%s=%s\n", name, unix.ErrnoName(err.(unix.Errno)))
		}
		try("unshare-user", unix.Unshare(unix.CLONE_NEWUSER))
		_, err := unix.KeyctlJoinSessionKeyring("probe")
		try("keyctl", err)
		try("mount", unix.Mount("tmpfs", "/tmp", "tmpfs", 0, ""))
		try("finit_module", unix.FinitModule(0, "", 0))
		try("init_module", unix.InitModule([]byte{0}, ""))
	default:
		fmt.Fprintln(os.Stderr, "probe: unknown command", os.Args[1])
		os.Exit(2)
	}
}
