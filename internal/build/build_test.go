package build

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

func parse(t testing.TB, dockerfile string) ([]instructions.Stage, []instructions.ArgCommand) {
	t.Helper()
	ast, err := parser.Parse(strings.NewReader(dockerfile))
	if err != nil {
		t.Fatal(err)
	}
	stages, args, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		t.Fatal(err)
	}
	return stages, args
}

func TestTargetNeedsOnlyItsStages(t *testing.T) {
	stages, metaArgs := parse(t, `ARG BASE=a
FROM busybox AS a
FROM busybox AS unused
FROM ${BASE} AS b
FROM busybox AS c
COPY --from=1 /x /x
COPY --from=b /y /y
FROM busybox AS d
RUN --mount=type=bind,from=unused,target=/u true
`)
	b := &builder{escape: '\\', used: map[string]bool{}}
	var err error
	if b.globalArgs, err = b.metaArgs(metaArgs); err != nil {
		t.Fatal(err)
	}
	deps, err := b.needed(stages, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int][]int{0: {}, 1: {}, 2: {0}, 3: {1, 2}}
	if !reflect.DeepEqual(deps, want) {
		t.Errorf("c needs unused (--from=1) and b, b needs a (via FROM ${BASE}): %v, want %v", deps, want)
	}
	if deps, _ := b.needed(stages, 2); !reflect.DeepEqual(deps, map[int][]int{0: {}, 2: {0}}) {
		t.Errorf("b needs a only: %v", deps)
	}
	if deps, _ := b.needed(stages, 4); !reflect.DeepEqual(deps, map[int][]int{1: {}, 4: {1}}) {
		t.Errorf("d needs unused through its RUN's bind mount: %v", deps)
	}
}

func TestCacheKeysChainAndTreeDigestsSeeContent(t *testing.T) {
	if key("p", "RUN x") == key("p", "RUN y") || key("p", "a", "b") == key("p", "ab") || key("p", "x") != key("p", "x") {
		t.Error("keys must differ with their parts, and only with them")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	d1, err := treeDigest(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "f"), 0o755); err != nil {
		t.Fatal(err)
	}
	d2, _ := treeDigest(dir, false)
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("two"), 0o755); err != nil {
		t.Fatal(err)
	}
	d3, _ := treeDigest(dir, false)
	if d1 == d2 || d2 == d3 {
		t.Errorf("a mode or a content change must change the digest: %s %s %s", d1, d2, d3)
	}
}

// FuzzDockerfile: the front end never panics, whatever the file.
func FuzzDockerfile(f *testing.F) {
	f.Add("FROM busybox AS a\nRUN <<EOF\necho hi\nEOF\nCOPY --from=a / /\n")
	f.Add("# escape=`\nFROM x\nRUN echo `\n  hi\n")
	f.Add("ARG A=${B:-c}\nFROM ${A}\nENV X=\"y z\" W=1\nONBUILD RUN x\nHEALTHCHECK CMD true\n")
	f.Fuzz(func(t *testing.T, dockerfile string) {
		ast, err := parser.Parse(strings.NewReader(dockerfile))
		if err != nil {
			return
		}
		stages, metaArgs, err := instructions.Parse(ast.AST, nil)
		if err != nil {
			return
		}
		b := &builder{escape: ast.EscapeToken, used: map[string]bool{}}
		if b.globalArgs, err = b.metaArgs(metaArgs); err != nil {
			return
		}
		if len(stages) > 0 {
			_, _ = b.needed(stages, len(stages)-1) // errors are fine; a panic is not
		}
	})
}

func TestParseTrigger(t *testing.T) {
	if c, err := parseTrigger("RUN echo hi"); err != nil || codeOf(c) != "RUN echo hi" {
		t.Fatalf("RUN trigger: %v, %v", c, err)
	}
	for _, bad := range []string{"FROM busybox", "ONBUILD RUN x", "MAINTAINER me", "", "RUN a\nRUN b", "BOGUS x"} {
		if _, err := parseTrigger(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestGlobMatchesDoubleStarAtAnyDepth(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.go", "x/b.go", "x/y/c.go", "x/y/d.txt", "z/e.go"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rel := func(ps []string) []string {
		out := []string{}
		for _, p := range ps {
			r, _ := filepath.Rel(dir, p)
			out = append(out, r)
		}
		return out
	}
	for pattern, want := range map[string][]string{
		"**/*.go":   {"a.go", "x/b.go", "x/y/c.go", "z/e.go"},
		"x/**/*.go": {"x/b.go", "x/y/c.go"},
		"x/**":      {"x", "x/b.go", "x/y", "x/y/c.go", "x/y/d.txt"},
		"*.go":      {"a.go"},
	} {
		got, err := glob(dir, pattern)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(rel(got), want) {
			t.Errorf("%s: %v, want %v", pattern, rel(got), want)
		}
	}
}

func TestNormalPlatform(t *testing.T) {
	for in, want := range map[string]string{"amd64": "linux/amd64", "linux/AMD64": "linux/amd64", "linux/arm": "linux/arm/v7", "linux/arm64/v8": "linux/arm64/v8"} {
		if got := normalPlatform(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

func TestGitSourcesAndRefs(t *testing.T) {
	for src, want := range map[string]bool{"https://h/x.git": true, "https://h/x.git#main:sub": true, "git@h:x/y.git": true, "git://h/x": true,
		"https://h/x.tar.gz": false, "ctx/x.git": false} {
		if got := isGitSource(src); got != want {
			t.Errorf("%s: %v", src, got)
		}
	}
	r, err := parseGitRef("https://h/x.git#v1:../../etc")
	if err != nil || r.remote != "https://h/x.git" || r.ref != "v1" || r.subdir != "etc" {
		t.Errorf("ref %+v %v", r, err)
	}
	if _, err := parseGitRef("--upload-pack=x#main"); err == nil {
		t.Error("an option as a remote")
	}
	if m := gitMessage("Cloning\r\nfatal: no such ref\nhint: x\n"); m != "fatal: no such ref" {
		t.Errorf("message %q", m)
	}
}
