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
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	mobycontainer "github.com/moby/moby/api/types/container"

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
	// PullAlways pulls every image the build names, even one the store
	// has (--pull).
	PullAlways bool
	// Outputs are where the result goes besides the store (--output).
	Outputs []Output
	// CacheFrom are images whose inline cache may serve steps
	// (--cache-from), pulled when not here.
	CacheFrom []string
	// StepHost are the host options of every RUN step's container
	// (--memory, --cpu-shares, --ulimit, --security-opt, ... of the
	// classic builder): limits, security options and /dev/shm's size.
	StepHost mobycontainer.HostConfig
	// ClassicCacheFrom reads CacheFrom as Docker's classic builder
	// does (the Engine API's /build): only steps whose cached image is
	// one of those images or of their parents are reused, and an image
	// that is not here is ignored.
	ClassicCacheFrom bool
	// InlineCache writes the build's cache into the result, for another
	// build's --cache-from (--cache-to type=inline, or the build arg
	// BUILDKIT_INLINE_CACHE=1).
	InlineCache bool
	// Platform is the one platform to build for (--platform); "" is
	// this host's, the only one berth builds for yet.
	Platform string
	// Out receives the steps and what they print; nil discards.
	Out io.Writer
	// Progress is the form Out gets; "" is plain.
	Progress Progress
	// NoCache runs every step; their results are still cached.
	NoCache bool
	// Secrets are --secret values by id, for RUN --mount=type=secret.
	Secrets map[string]Secret
	// SSH are agent sockets by id (--ssh), for RUN --mount=type=ssh.
	SSH map[string]string
	// Network is RUN's network (--network): "" or default is the
	// default bridge, else host, none or a network's name; a RUN's
	// own --network wins.
	Network string
	// ExtraHosts are RUN's extra /etc/hosts entries (--add-host).
	ExtraHosts []string
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

// CommandError is a RUN whose command failed.
type CommandError struct {
	Args []string
	Code int
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("the command returned a non-zero code: %d", e.Code)
}

// Classic is the error as Docker's classic builder words it, which the
// API's clients match: The command '/bin/sh -c …' returned a non-zero
// code: N.
func (e *CommandError) Classic() string {
	return fmt.Sprintf("The command '%s' returned a non-zero code: %d", strings.Join(e.Args, " "), e.Code)
}

// Build builds the Dockerfile's target stage and tags it. Stages that
// do not depend on each other build at once.
func Build(ctx context.Context, e *engine.Engine, o Options) (Result, error) {
	p := newProgress(o.Out, o.Progress)
	defer p.close()
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
	v := p.step("[internal] load build definition from "+filepath.Base(file), "", false)
	stages, metaArgs, escape, err := parseDockerfile(file, o.Source, p)
	v.finish(err)
	if err != nil {
		return Result{}, err
	}
	v = p.step("[internal] load build context", "", false)
	ctxDir, cleanup, err := contextSnapshot(o.ContextDir, scratch)
	v.finish(err)
	if err != nil {
		return Result{}, err
	}
	defer cleanup()
	b := &builder{e: e, o: o, p: p, owner: engine.OwnerToken(), file: file, stagingDir: scratch, escape: escape, context: ctxDir,
		built: map[string]string{}, used: map[string]bool{}, pulled: map[string]string{}, inlines: map[string][]inlineStep{}, external: map[string]external{}, cache: cache{dir: e.BuildCacheDir(), off: o.NoCache}}
	b.sweepSteps()
	b.globalArgs, err = b.metaArgs(metaArgs)
	if err != nil {
		return Result{}, err
	}
	if o.Platform != "" && normalPlatform(o.Platform) != b.globalArgs["TARGETPLATFORM"] {
		return Result{}, fmt.Errorf("build: --platform=%s: building for another platform than this host's (%s) is not supported yet", o.Platform, b.globalArgs["TARGETPLATFORM"])
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
	if o.BuildArgs["BUILDKIT_INLINE_CACHE"] == "1" {
		b.o.InlineCache = true
	}
	switch {
	case len(o.CacheFrom) > 0 && o.ClassicCacheFrom:
		b.cache.allowed = classicCacheImages(e, o.CacheFrom)
	case len(o.CacheFrom) > 0:
		v := p.step("[internal] importing cache from "+strings.Join(o.CacheFrom, ", "), "", false)
		b.loadCacheFrom(ctx, v)
		v.finish(nil)
	}
	deps, err := b.needed(stages, last)
	if err != nil {
		return Result{}, err
	}
	for i, s := range stages {
		if _, ok := deps[i]; ok {
			p.total += 1 + len(s.Commands)
		}
	}
	id, err := b.solve(ctx, stages, deps, last)
	if err != nil {
		return Result{}, err
	}
	for k := range o.BuildArgs {
		if !b.used[k] && !predefinedArgs[k] {
			p.warn(fmt.Sprintf("one or more build args were not consumed: %s", k))
		}
	}
	v = p.step("exporting to image", "", false)
	v.note("writing image " + id + " done")
	for _, t := range o.Tags {
		if err := e.ImageTag(id, t); err != nil {
			v.finish(err)
			return Result{}, err
		}
		v.note("naming to " + t + " done")
	}
	for _, out := range o.Outputs {
		if err := b.export(ctx, id, out); err != nil {
			err = fmt.Errorf("build: --output type=%s,dest=%s: %w", out.Type, out.Dest, err)
			v.finish(err)
			return Result{}, err
		}
		v.note("exporting to " + out.Type + " " + out.Dest + " done")
	}
	v.finish(nil)
	return Result{ID: id}, nil
}

// parseDockerfile reads the Dockerfile (from src when set) into its
// stages and the ARGs before the first FROM; the parser's and the
// linter's warnings go to the progress.
func parseDockerfile(file string, src io.Reader, p *progress) ([]instructions.Stage, []instructions.ArgCommand, rune, error) {
	if src == nil {
		f, err := os.Open(file)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("build: %w", err)
		}
		defer f.Close() // read only
		src = f
	}
	dt, err := io.ReadAll(src)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("build: %s: %w", file, err)
	}
	ast, err := parser.Parse(bytes.NewReader(dt))
	if err != nil {
		return nil, nil, 0, fmt.Errorf("build: %s: %w", file, err)
	}
	for _, w := range ast.Warnings {
		p.warn(w.Short)
	}
	lint, err := newLinter(dt, p)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("build: %s: %w", file, err)
	}
	stages, metaArgs, err := instructions.Parse(ast.AST, lint)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("build: %s: %w", file, err)
	}
	if len(stages) == 0 {
		return nil, nil, 0, fmt.Errorf("build: %s: no FROM instruction", file)
	}
	lintStages(lint, stages)
	if err := lint.Error(); err != nil { // # check=error=true
		return nil, nil, 0, fmt.Errorf("build: %s: %w", file, err)
	}
	return stages, metaArgs, ast.EscapeToken, nil
}

// solve builds the stages deps names, each once the stages it depends on
// are built, and returns the last one's image. The first failure stops
// the others.
func (b *builder) solve(ctx context.Context, stages []instructions.Stage, deps map[int][]int, last int) (string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		done chan struct{}
		id   string
		err  error
	}
	results := map[int]*result{}
	for i := range deps {
		results[i] = &result{done: make(chan struct{})}
	}
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for i := range deps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := results[i]
			defer close(r.done)
			for _, d := range deps[i] {
				<-results[d].done
				if results[d].err != nil {
					r.err = results[d].err
					return
				}
			}
			if r.err = ctx.Err(); r.err != nil {
				return
			}
			r.id, r.err = b.stage(ctx, i, stages[i], i == last)
			if r.err != nil {
				// The first failure is the build's error; the stages it
				// stops fail after it.
				once.Do(func() { first = r.err })
				cancel()
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return "", first
	}
	return results[last].id, results[last].err
}

// predefinedArgs need no ARG to be used, as Docker's.
var predefinedArgs = map[string]bool{"HTTP_PROXY": true, "http_proxy": true, "HTTPS_PROXY": true, "https_proxy": true,
	"FTP_PROXY": true, "ftp_proxy": true, "NO_PROXY": true, "no_proxy": true, "ALL_PROXY": true, "all_proxy": true,
	"BUILDKIT_INLINE_CACHE": true}

// builder is one build's state.
type builder struct {
	e          *engine.Engine
	o          Options
	file       string
	stagingDir string // where steps stage their files
	escape     rune   // the Dockerfile's escape character
	p          *progress
	owner      string            // engine.OwnerToken, for the steps' label
	context    string            // the context, .dockerignore applied
	globalArgs map[string]string // ARGs before the first FROM
	cache      cache

	mu     sync.Mutex        // guards what the stages building at once share:
	built  map[string]string // stage name or index -> image ID
	used   map[string]bool   // build args some ARG consumed
	pulled map[string]string // --pull: image name -> what this build pulled
	// inlines are the inline caches of the stages built, by image ID.
	inlines map[string][]inlineStep
	// external are the steps --cache-from images serve, by key; filled
	// before the stages build, only read after.
	external map[string]external
}

// metaArgs are the ARGs before the first FROM, with --build-arg values.
func (b *builder) metaArgs(args []instructions.ArgCommand) (map[string]string, error) {
	out := platformArgs()
	for _, a := range args {
		for _, kv := range a.Args {
			v := ""
			if kv.Value != nil {
				w, err := b.word(*kv.Value, shell.EnvsFromSlice(envOf(out)))
				if err != nil {
					return nil, err
				}
				v = w
			}
			if bv, ok := b.o.BuildArgs[kv.Key]; ok {
				v = bv
				b.use(kv.Key)
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

// ownerLabel marks a build's step containers with the builder process
// (engine.OwnerToken): steps of a builder that was killed (-9, so it
// could not remove them) are removed by the next build.
const ownerLabel = "berth.build.owner"

func (b *builder) stepLabels() map[string]string {
	return map[string]string{ownerLabel: b.owner}
}

// sweepSteps removes the step containers of builders that are gone.
// The monitor of a running step killed it when its builder went
// (EndWithClient); what is left is its record and its files.
func (b *builder) sweepSteps() {
	steps, err := b.e.ContainerList(engine.ListOptions{All: true, Filters: engine.Filters{"label": {ownerLabel}}})
	if err != nil {
		return // nothing swept: the next build tries again
	}
	for _, c := range steps {
		if !engine.OwnerAlive(c.Labels[ownerLabel]) {
			_ = b.e.ContainerRemove(context.Background(), c.ID, engine.RemoveOptions{Force: true, Volumes: true}) // the next build tries again
		}
	}
}

// word expands a word of the Dockerfile with env. A lexer has state, so
// each expansion has its own: stages expand at once.
func (b *builder) word(w string, env shell.EnvGetter) (string, error) {
	out, _, err := shell.NewLex(b.escape).ProcessWord(w, env)
	return out, err
}

// use marks a build arg as consumed.
func (b *builder) use(arg string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used[arg] = true
}

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

// needed is the stages the target stage depends on, each with the
// stages it depends on itself: through FROM a stage, COPY --from or
// RUN --mount=from= a stage (by name or index), transitively.
func (b *builder) needed(stages []instructions.Stage, target int) (map[int][]int, error) {
	index := map[string]int{}
	for i, s := range stages {
		index[strconv.Itoa(i)] = i
		if s.Name != "" {
			index[strings.ToLower(s.Name)] = i
		}
	}
	env := shell.EnvsFromSlice(envOf(b.globalArgs))
	expand := func(w string) (string, error) {
		out, err := b.word(w, env)
		return out, err
	}
	deps := map[int][]int{}
	var visit func(i int) error
	visit = func(i int) error {
		if _, ok := deps[i]; ok {
			return nil
		}
		deps[i] = []int{}
		refs := []string{stages[i].BaseName}
		for _, c := range stages[i].Commands {
			switch c := c.(type) {
			case *instructions.CopyCommand:
				if c.From != "" {
					refs = append(refs, c.From)
				}
			case *instructions.RunCommand:
				// The mounts are read again with the stage's own ARGs
				// when it runs; the global ones are what can name a stage.
				if err := c.Expand(expand); err != nil {
					continue // the step reports it
				}
				for _, m := range instructions.GetMounts(c) {
					if m.From != "" {
						refs = append(refs, m.From)
					}
				}
			}
		}
		for _, r := range refs {
			name, err := expand(r)
			if err != nil {
				return err
			}
			if j, ok := index[strings.ToLower(name)]; ok && j < i {
				if !slices.Contains(deps[i], j) {
					deps[i] = append(deps[i], j)
				}
				if err := visit(j); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return deps, visit(target)
}

// normalPlatform writes os/arch[/variant] as TARGETPLATFORM does: the
// OS defaults to linux, and arm to its v7 variant.
func normalPlatform(p string) string {
	parts := strings.Split(strings.ToLower(p), "/")
	if len(parts) == 1 {
		parts = append([]string{"linux"}, parts...)
	}
	if len(parts) == 2 && parts[1] == "arm" {
		parts = append(parts, "v7")
	}
	return strings.Join(parts, "/")
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
