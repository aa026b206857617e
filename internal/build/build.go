// Package build builds images from a Dockerfile on the engine, with no
// daemon: BuildKit's Dockerfile front end (parser, instructions, shell
// lexer, .dockerignore) reads the file, and each step that changes the
// filesystem is a container of the engine: RUN runs in one, COPY, ADD
// and WORKDIR write into one, and the container is committed as the
// step's layer (its overlay upper dir is the diff). Steps that change
// only metadata change the image config and add a history entry without
// a layer. The API's POST /build will call the same Build.
package build

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/berth-project/berth/internal/engine"
)

// Options are a build's.
type Options struct {
	// ContextDir is the build context.
	ContextDir string
	// ContextArchive, when set, is the context instead: a tar stream,
	// plain or compressed (`build - < context.tar.gz`, POST /build's
	// body), or, when it is not a tar, the Dockerfile itself with an
	// empty context (`build - < Dockerfile`).
	ContextArchive io.Reader
	// Dockerfile is the file's path; "" is ContextDir/Dockerfile. With
	// ContextArchive it is a path in the archive. Its contents, when
	// Source is set, come from there instead (-f -).
	Dockerfile string
	Source     io.Reader
	// Tags name the result (-t, one or more).
	Tags []string
	// BuildArgs are --build-arg values.
	BuildArgs map[string]string
	// Target is the last stage built; "" is the file's last stage.
	Target string
	// Labels are added to the result's config (--label).
	Labels map[string]string
	// Pull is how FROM fetches an image the store lacks.
	Pull engine.PullOptions
	// Out receives the steps and what they print; nil discards.
	Out io.Writer
	// NoCache runs every step; their results are still cached.
	NoCache bool
	// Secrets are --secret values by id, for RUN --mount=type=secret.
	Secrets map[string]Secret
}

// Result is a build's image.
type Result struct {
	ID string
}

// Error is a build failure at one instruction of the Dockerfile.
type Error struct {
	File string
	Line int
	Code string // the instruction as written
	Err  error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d: %s: %v", e.File, e.Line, e.Code, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Build builds the Dockerfile's target stage and tags it.
func Build(ctx context.Context, e *engine.Engine, o Options) (Result, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	scratch := e.BuildScratchDir()
	if err := os.MkdirAll(scratch, 0o700); err != nil {
		return Result{}, fmt.Errorf("build: %w", err)
	}
	if o.ContextArchive != nil {
		done, err := contextFromArchive(&o, scratch)
		if err != nil {
			return Result{}, err
		}
		defer done()
	}
	file := o.Dockerfile
	if file == "" {
		file = filepath.Join(o.ContextDir, "Dockerfile")
	}
	src := o.Source
	if src == nil {
		f, err := os.Open(file)
		if err != nil {
			return Result{}, fmt.Errorf("build: %w", err)
		}
		defer f.Close() // read only
		src = f
	}
	ast, err := parser.Parse(src)
	if err != nil {
		return Result{}, fmt.Errorf("build: %s: %w", file, err)
	}
	for _, w := range ast.Warnings {
		fmt.Fprintf(o.Out, "[WARNING] %s\n", w.Short)
	}
	stages, metaArgs, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		return Result{}, fmt.Errorf("build: %s: %w", file, err)
	}
	if len(stages) == 0 {
		return Result{}, fmt.Errorf("build: %s: no FROM instruction", file)
	}
	ctxDir, cleanup, err := contextSnapshot(o.ContextDir, scratch)
	if err != nil {
		return Result{}, err
	}
	defer cleanup()
	b := &builder{e: e, o: o, file: file, stagingDir: scratch, lex: shell.NewLex(ast.EscapeToken), context: ctxDir,
		built: map[string]string{}, used: map[string]bool{}, cache: cache{dir: e.BuildCacheDir(), off: o.NoCache}}
	b.globalArgs, err = b.metaArgs(metaArgs)
	if err != nil {
		return Result{}, err
	}
	last := len(stages) - 1
	if o.Target != "" {
		last = -1
		for i, s := range stages {
			if strings.EqualFold(s.Name, o.Target) {
				last = i
			}
		}
		if last < 0 {
			return Result{}, fmt.Errorf("build: target stage %q not found", o.Target)
		}
	}
	need, err := b.needed(stages, last)
	if err != nil {
		return Result{}, err
	}
	for i, s := range stages {
		if need[i] {
			b.total += 1 + len(s.Commands)
		}
	}
	var id string
	for i, s := range stages[:last+1] {
		if !need[i] {
			continue // --target does not depend on it
		}
		if id, err = b.stage(ctx, i, s, i == last); err != nil {
			return Result{}, err
		}
	}
	for k := range o.BuildArgs {
		if !b.used[k] && !predefinedArgs[k] {
			fmt.Fprintf(o.Out, "[WARNING] one or more build args were not consumed: %s\n", k)
		}
	}
	for _, t := range o.Tags {
		if err := e.ImageTag(id, t); err != nil {
			return Result{}, err
		}
	}
	return Result{ID: id}, nil
}

// predefinedArgs need no ARG to be used, as Docker's.
var predefinedArgs = map[string]bool{"HTTP_PROXY": true, "http_proxy": true, "HTTPS_PROXY": true, "https_proxy": true,
	"FTP_PROXY": true, "ftp_proxy": true, "NO_PROXY": true, "no_proxy": true, "ALL_PROXY": true, "all_proxy": true}

// builder is one build's state.
type builder struct {
	e          *engine.Engine
	o          Options
	file       string
	stagingDir string // where steps stage their files
	lex        *shell.Lex
	context    string            // the context, .dockerignore applied
	built      map[string]string // stage name or index -> image ID
	globalArgs map[string]string // ARGs before the first FROM
	used       map[string]bool   // build args some ARG consumed
	step       int
	total      int
	cache      cache
}

// metaArgs are the ARGs before the first FROM, with --build-arg values.
func (b *builder) metaArgs(args []instructions.ArgCommand) (map[string]string, error) {
	out := platformArgs()
	for _, a := range args {
		for _, kv := range a.Args {
			v := ""
			if kv.Value != nil {
				w, _, err := b.lex.ProcessWord(*kv.Value, shell.EnvsFromSlice(envOf(out)))
				if err != nil {
					return nil, err
				}
				v = w
			}
			if bv, ok := b.o.BuildArgs[kv.Key]; ok {
				v, b.used[kv.Key] = bv, true
			}
			out[kv.Key] = v
		}
	}
	return out, nil
}

func envOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

func (b *builder) say(format string, args ...any) { fmt.Fprintf(b.o.Out, format, args...) }

// fail names the instruction a step failed at.
func (b *builder) fail(c instructions.Command, err error) error {
	line := 0
	if l := c.Location(); len(l) > 0 {
		line = l[0].Start.Line
	}
	return &Error{File: b.file, Line: line, Code: codeOf(c), Err: err}
}

// codeOf is an instruction as written.
func codeOf(c instructions.Command) string {
	if s, ok := c.(fmt.Stringer); ok {
		return s.String()
	}
	return c.Name()
}

// needed marks the stages the target stage depends on: through FROM a
// stage, or COPY --from a stage (by name or index), transitively.
func (b *builder) needed(stages []instructions.Stage, target int) (map[int]bool, error) {
	index := map[string]int{}
	for i, s := range stages {
		index[strconv.Itoa(i)] = i
		if s.Name != "" {
			index[strings.ToLower(s.Name)] = i
		}
	}
	env := shell.EnvsFromSlice(envOf(b.globalArgs))
	need := map[int]bool{}
	var visit func(i int) error
	visit = func(i int) error {
		if need[i] {
			return nil
		}
		need[i] = true
		refs := []string{stages[i].BaseName}
		for _, c := range stages[i].Commands {
			if cp, ok := c.(*instructions.CopyCommand); ok && cp.From != "" {
				refs = append(refs, cp.From)
			}
		}
		for _, r := range refs {
			name, _, err := b.lex.ProcessWord(r, env)
			if err != nil {
				return err
			}
			if j, ok := index[strings.ToLower(name)]; ok && j < i {
				if err := visit(j); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return need, visit(target)
}

// platformArgs are BuildKit's automatic ARGs: the platform built on and
// the one built for (the same: berth builds for its host), in the global
// scope; a stage sees them once it declares them with ARG.
func platformArgs() map[string]string {
	arch, variant := goruntime.GOARCH, ""
	if arch == "arm" {
		variant = "v7"
	}
	platform := "linux/" + arch
	if variant != "" {
		platform += "/" + variant
	}
	out := map[string]string{}
	for _, p := range []string{"BUILD", "TARGET"} {
		out[p+"PLATFORM"], out[p+"OS"], out[p+"ARCH"], out[p+"VARIANT"] = platform, "linux", arch, variant
	}
	return out
}
