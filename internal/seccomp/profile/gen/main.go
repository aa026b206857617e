// Command gen writes default.json, the engine's default seccomp profile,
// from moby's (github.com/moby/profiles/seccomp, the profile Docker and
// containers-common ship). Run it with `go generate ./internal/seccomp/profile`
// after bumping that module; the JSON is kept in the repository as data.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	mobyseccomp "github.com/moby/profiles/seccomp"
)

func main() {
	b, err := json.MarshalIndent(mobyseccomp.DefaultProfile(), "", "\t")
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(os.Args[1], append(b, '\n'), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
