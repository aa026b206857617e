package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// isGitSource tells an ADD source that is a git repository, as BuildKit
// does: git@host:path, git:// and ssh:// URLs, and http(s) URLs whose
// path ends in .git (with an optional #ref[:subdir]).
func isGitSource(src string) bool {
	if strings.HasPrefix(src, "git@") || strings.HasPrefix(src, "git://") || strings.HasPrefix(src, "ssh://") {
		return true
	}
	if !isURL(src) {
		return false
	}
	u, err := url.Parse(src)
	return err == nil && strings.HasSuffix(u.Path, ".git")
}

// gitRef is a git source: the repository, the ref (a branch, a tag or a
// commit; "" is the default branch) and the subdirectory to take.
type gitRef struct {
	remote, ref, subdir string
}

func parseGitRef(src string) (gitRef, error) {
	remote, frag, _ := strings.Cut(src, "#")
	ref, subdir, _ := strings.Cut(frag, ":")
	if strings.HasPrefix(ref, "-") || strings.HasPrefix(remote, "-") {
		return gitRef{}, fmt.Errorf("%s: not a git reference", src) // never an option to git
	}
	sub := path.Clean("/" + subdir)
	return gitRef{remote: remote, ref: ref, subdir: strings.TrimPrefix(sub, "/")}, nil
}

var commitPattern = regexp.MustCompile(`^[0-9a-f]{40}$`)

// fetchGit checks the source's ref out into a new directory under dir
// and returns the tree ADD copies (the subdirectory, when one is named)
// with the commit it is. The .git directory goes unless keepGitDir.
func fetchGit(ctx context.Context, src, dir string, keepGitDir bool) (checkout, tree, commit string, err error) {
	r, err := parseGitRef(src)
	if err != nil {
		return "", "", "", err
	}
	checkout, err = os.MkdirTemp(dir, "git-")
	if err != nil {
		return "", "", "", err
	}
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", checkout, "-c", "protocol.file.allow=never", "-c", "advice.detachedHead=false"}, args...)...)
		// No prompt for credentials, no user or system config that could
		// run a program of the host's.
		cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			if errors.Is(err, exec.ErrNotFound) {
				return "", errors.New("ADD of a git repository needs git, which is not installed")
			}
			return "", fmt.Errorf("git %s: %v: %s", args[0], err, gitMessage(errb.String()))
		}
		return strings.TrimSpace(out.String()), nil
	}
	fail := func(err error) (string, string, string, error) {
		_ = os.RemoveAll(checkout) // a partial checkout
		return "", "", "", fmt.Errorf("%s: %w", src, err)
	}
	if _, err := git("init", "-q"); err != nil {
		return fail(err)
	}
	ref := r.ref
	if ref == "" {
		ref = "HEAD"
	}
	// A commit is fetched as it is; a branch or a tag shallow first,
	// and in full from a server that cannot serve a shallow fetch (git's
	// dumb HTTP).
	if _, err := git("fetch", "-q", "--depth", "1", "--", r.remote, ref); err != nil {
		if _, err := git("fetch", "-q", "--", r.remote, ref); err != nil {
			if !commitPattern.MatchString(ref) {
				return fail(err)
			}
			if _, err := git("fetch", "-q", "--", r.remote, "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"); err != nil {
				return fail(err)
			}
		}
	}
	target := "FETCH_HEAD"
	if commitPattern.MatchString(ref) {
		target = ref
	}
	if _, err := git("checkout", "-q", "--detach", target); err != nil {
		return fail(err)
	}
	if commit, err = git("rev-parse", "HEAD"); err != nil {
		return fail(err)
	}
	if !keepGitDir {
		if err := os.RemoveAll(filepath.Join(checkout, ".git")); err != nil {
			return fail(err)
		}
	}
	// The subdirectory is resolved inside the checkout: a symlink of
	// the repository's cannot lead the copy out to the host.
	base, err := filepath.EvalSymlinks(checkout)
	if err != nil {
		return fail(err)
	}
	real, err := filepath.EvalSymlinks(filepath.Join(base, r.subdir))
	if err != nil || (real != base && !strings.HasPrefix(real, base+"/")) {
		return fail(fmt.Errorf("%s is not a directory of the repository", r.subdir))
	}
	if fi, err := os.Stat(real); err != nil || !fi.IsDir() {
		return fail(fmt.Errorf("%s is not a directory of the repository", r.subdir))
	}
	return checkout, real, commit, nil
}

// gitMessage is the line of git's output that says what failed: its
// "fatal:" line, or its last.
func gitMessage(out string) string {
	var last string
	for _, l := range strings.Split(strings.ReplaceAll(out, "\r", ""), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "fatal:") {
			return l
		}
		if l != "" {
			last = l
		}
	}
	return last
}
