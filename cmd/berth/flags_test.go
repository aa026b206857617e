package main

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestFlagsAgainstDockers compares berth's command line with the docker
// CLI 28.2's (testdata/docker-28.2-flags.txt, from scripts/docker-flags.sh):
// every command and long flag of Docker's that berth lacks must be in
// testdata/berth-not-yet.txt, with the reason, so that none goes missing
// unnoticed; one listed there that berth now has must leave the list.
// The coverage is logged (go test -v -run Flags ./cmd/berth).
func TestFlagsAgainstDockers(t *testing.T) {
	docker := readLines(t, "testdata/docker-28.2-flags.txt")
	notYet := map[string]bool{}
	for _, l := range readLines(t, "testdata/berth-not-yet.txt") {
		notYet[strings.Join(strings.Fields(strings.SplitN(l, "#", 2)[0]), " ")] = true
	}
	root := newRoot(&globals{})
	var cmds, haveCmds, flags, haveFlags int
	seen := map[string]bool{}
	for _, l := range docker {
		path, flag, _ := strings.Cut(l, "\t")
		c := find(root, strings.Fields(path))
		if !seen[path] {
			seen[path] = true
			cmds++
			if c != nil {
				haveCmds++
			} else if !notYet[path] {
				t.Errorf("berth has no %q, nor is it in testdata/berth-not-yet.txt", path)
			} else {
				delete(notYet, path)
			}
		}
		if flag == "-" || flag == "--help" {
			continue
		}
		flags++
		key := path + " " + flag
		switch {
		case c != nil && hasFlag(c, strings.TrimPrefix(flag, "--")):
			haveFlags++
			if notYet[key] {
				t.Errorf("%q is in testdata/berth-not-yet.txt but berth has it now: take it out", key)
			}
		case c == nil:
			// the command's absence is listed (or reported) above
		case !notYet[key]:
			t.Errorf("berth %s has no %s, nor is it in testdata/berth-not-yet.txt", path, flag)
		}
		delete(notYet, key)
	}
	for k := range notYet {
		t.Errorf("testdata/berth-not-yet.txt lists %q, which Docker 28.2 does not have", k)
	}
	t.Logf("commands: berth has %d of docker 28.2's %d non-Swarm commands; flags: %d of their %d", haveCmds, cmds, haveFlags, flags)
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// find is the command at path (names or aliases), nil if there is none.
func find(root *cobra.Command, path []string) *cobra.Command {
	c := root
	for _, name := range path {
		i := slices.IndexFunc(c.Commands(), func(s *cobra.Command) bool { return s.Name() == name || slices.Contains(s.Aliases, name) })
		if i < 0 {
			return nil
		}
		c = c.Commands()[i]
	}
	return c
}

func hasFlag(c *cobra.Command, name string) bool {
	found := false
	check := func(f *pflag.Flag) { found = found || f.Name == name }
	c.LocalFlags().VisitAll(check)
	c.InheritedFlags().VisitAll(check)
	return found
}

// TestHotVerbsAloneAreTheSame checks that a verb built alone (rootFor)
// takes the flags and arguments it takes in the whole tree.
func TestHotVerbsAloneAreTheSame(t *testing.T) {
	full := newRoot(&globals{})
	for name := range hotVerbs {
		alone := rootFor(&globals{}, []string{"--root", "/x", name, "img"})
		a, _, err := alone.Find([]string{name})
		if err != nil || a.Name() != name || len(alone.Commands()) != 1 {
			t.Fatalf("%s alone: %v %v", name, a, err)
		}
		f, _, err := full.Find([]string{name})
		if err != nil {
			t.Fatal(err)
		}
		flags := func(c *cobra.Command) []string {
			var out []string
			c.Flags().VisitAll(func(fl *pflag.Flag) { out = append(out, fl.Name+"/"+fl.Shorthand+"/"+fl.DefValue) })
			c.InheritedFlags().VisitAll(func(fl *pflag.Flag) { out = append(out, "inherited "+fl.Name) })
			return out
		}
		if !slices.Equal(flags(a), flags(f)) || a.Use != f.Use {
			t.Errorf("%s alone differs:\n%v\n%v", name, flags(a), flags(f))
		}
	}
	// A flag before the verb that is not a global one, or no verb: the
	// whole tree parses it.
	for _, args := range [][]string{{"--version"}, {"-x", "run"}, {"container", "run"}, {"ps"}, {}} {
		if n := len(rootFor(&globals{}, args).Commands()); n < 20 {
			t.Errorf("%v: %d commands, want the whole tree", args, n)
		}
	}
}
