package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	mobycontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	mobynetwork "github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/engine"
)

// stageState is a stage being built: its current image and the config
// and history its steps have made since.
type stageState struct {
	image   string
	cfg     mobycontainer.Config
	history []engine.HistoryStep // metadata steps since the last layer
	args    map[string]string    // ARGs in scope, with --build-arg values
	shell   []string
	mkdirs  []string     // WORKDIRs to make with the next layer
	author  string       // MAINTAINER's, or the base image's
	argKeys []string     // the stage's ARGs in the order declared
	cmdSet  bool         // CMD was given in this stage
	key     string       // the build cache's key of the steps so far
	v       *vertex      // the step being built
	inline  []inlineStep // the inline cache of the layer steps so far
}

const historyComment = "buildkit.dockerfile.v0"

// stage builds one stage and returns its image's ID.
func (b *builder) stage(ctx context.Context, index int, s instructions.Stage, last bool) (string, error) {
	name := s.Name
	if name == "" {
		name = "stage-" + strconv.Itoa(index)
	}
	total := 1
	for _, c := range s.Commands {
		if makesLayer(c) {
			total++
		}
	}
	pos := 1
	base, err := b.word(s.BaseName, shell.EnvsFromSlice(envOf(b.globalArgs)))
	if err != nil {
		return "", err
	}
	st := &stageState{args: map[string]string{}, shell: []string{"/bin/sh", "-c"}}
	st.v = b.p.step(fmt.Sprintf("[%s %d/%d] FROM %s", name, pos, total, base), s.SourceCode, false)
	if err := b.from(ctx, st, s, base); err != nil {
		st.v.finish(err)
		return "", err
	}
	st.v.finish(nil)
	st.v.classic(" ---> %s\n", short(st.image))
	for _, cmd := range s.Commands {
		silent := !makesLayer(cmd)
		if !silent {
			pos++
		}
		st.v = b.p.step(fmt.Sprintf("[%s %d/%d] %s", name, pos, total, codeOf(cmd)), codeOf(cmd), silent)
		if err := b.command(ctx, st, cmd); err != nil {
			err = b.fail(cmd, err)
			st.v.finish(err)
			return "", err
		}
		if silent && b.p.mode == ProgressClassic {
			if err := b.metadataStep(st); err != nil {
				return "", err
			}
		}
		st.v.finish(nil)
		st.v.classic(" ---> %s\n", short(st.image))
	}
	if len(st.mkdirs) > 0 {
		st.key = key(st.key, "WORKDIR layer")
		if err := b.layer(ctx, st, step{createdBy: "WORKDIR " + st.cfg.WorkingDir, key: st.key}); err != nil {
			return "", err
		}
	}
	labels := map[string]string{}
	if last {
		for k, v := range b.o.Labels {
			labels[k] = v
		}
		if b.o.InlineCache {
			if labels[inlineLabel], err = inlineValue(st.inline); err != nil {
				return "", err
			}
		}
	}
	if len(labels) > 0 {
		if st.cfg.Labels == nil {
			st.cfg.Labels = map[string]string{}
		}
		for k, v := range labels {
			st.cfg.Labels[k] = v
		}
	}
	if len(st.history) > 0 || len(labels) > 0 {
		k := key(st.key, append([]string{"CONFIG"}, sortedPairs(labels)...)...)
		id, ok := b.cache.get(b.e, k)
		if !ok {
			if id, err = b.e.ImageConfigure(ctx, st.image, st.cfg, st.author, st.history, ""); err != nil {
				return "", err
			}
			if err := b.cache.put(k, id); err != nil {
				return "", err
			}
		}
		st.image, st.history = id, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inlines[st.image] = st.inline
	b.built[strconv.Itoa(index)] = st.image
	if s.Name != "" {
		b.built[strings.ToLower(s.Name)] = st.image
	}
	return st.image, nil
}

// metadataStep is what the classic form shows of a step that changes
// only the config: the classic builder made an image of each and
// reused it from its cache ("Using cache"). Here the step's state is
// recorded under its key, and a build that finds it there says so.
func (b *builder) metadataStep(st *stageState) error {
	if id, ok := b.cache.get(b.e, st.key); ok && id == st.image {
		st.v.cached()
		return nil
	}
	return b.cache.put(st.key, st.image)
}

// makesLayer tells the instructions that change the filesystem, the
// steps BuildKit's progress counts, from those that change only the
// config (WORKDIR's directory comes with the next layer here).
func makesLayer(c instructions.Command) bool {
	switch c.(type) {
	case *instructions.RunCommand, *instructions.CopyCommand, *instructions.AddCommand:
		return true
	}
	return false
}

// from is FROM: the base image, its config, and its ONBUILD triggers run.
func (b *builder) from(ctx context.Context, st *stageState, s instructions.Stage, base string) error {
	platform, err := b.word(s.Platform, shell.EnvsFromSlice(envOf(b.globalArgs)))
	if err != nil {
		return err
	}
	if platform != "" && normalPlatform(platform) != b.globalArgs["TARGETPLATFORM"] {
		return fmt.Errorf("%s:%d: FROM --platform=%s: building for another platform than this host's is not supported yet", b.file, lineOf(s.Location), platform)
	}
	if st.image, err = b.base(ctx, base, st.v); err != nil {
		return fmt.Errorf("%s:%d: FROM %s: %w", b.file, lineOf(s.Location), base, err)
	}
	st.key = key("", "FROM", cacheVersion, st.image)
	b.mu.Lock()
	st.inline = b.inlines[st.image] // a stage built before: its steps are this one's first
	b.mu.Unlock()
	in, err := b.e.ImageInspect(st.image)
	if err != nil {
		return err
	}
	st.author = in.Author
	if c := in.Config; c != nil {
		st.cfg = mobycontainer.Config{Env: c.Env, Cmd: c.Cmd, Entrypoint: c.Entrypoint, User: c.User, WorkingDir: c.WorkingDir,
			Labels: c.Labels, StopSignal: c.StopSignal, Shell: c.Shell, OnBuild: c.OnBuild, Volumes: c.Volumes, ArgsEscaped: c.ArgsEscaped}
		if c.Healthcheck != nil {
			h := *c.Healthcheck
			st.cfg.Healthcheck = &h
		}
		if len(c.ExposedPorts) > 0 {
			st.cfg.ExposedPorts = mobynetwork.PortSet{}
			for p := range c.ExposedPorts {
				if pp, err := mobynetwork.ParsePort(p); err == nil {
					st.cfg.ExposedPorts[pp] = struct{}{}
				}
			}
		}
		if len(c.Shell) > 0 {
			st.shell = c.Shell
		}
	}
	// PATH is always set, as BuildKit and buildah do (a scratch or
	// imported base has none).
	if !slices.ContainsFunc(st.cfg.Env, func(kv string) bool { return strings.HasPrefix(kv, "PATH=") }) {
		st.cfg.Env = append(st.cfg.Env, "PATH="+defaultPath)
	}
	// A base's ONBUILD triggers run first, and are not passed on.
	triggers := st.cfg.OnBuild
	st.cfg.OnBuild = nil
	if len(triggers) > 0 {
		st.v.classic("# Executing %d build trigger(s)\n", len(triggers))
	}
	for _, t := range triggers {
		cmd, err := parseTrigger(t)
		if err == nil {
			st.v.note("ONBUILD " + t)
			err = b.command(ctx, st, cmd)
		}
		if err != nil {
			return fmt.Errorf("%s:%d: FROM %s: ONBUILD %s: %w", b.file, lineOf(s.Location), base, t, err)
		}
	}
	return nil
}

// parseTrigger reads an ONBUILD trigger as the instruction it is.
func parseTrigger(t string) (instructions.Command, error) {
	res, err := parser.Parse(strings.NewReader(t))
	if err != nil {
		return nil, err
	}
	if len(res.AST.Children) != 1 {
		return nil, errors.New("a trigger is one instruction")
	}
	n := res.AST.Children[0]
	switch strings.ToUpper(n.Value) {
	case "ONBUILD", "FROM", "MAINTAINER":
		return nil, fmt.Errorf("%s is not allowed as an ONBUILD trigger", strings.ToUpper(n.Value))
	}
	return instructions.ParseCommand(n)
}

func lineOf(l []parser.Range) int {
	if len(l) == 0 {
		return 0
	}
	return l[0].Start.Line
}

func short(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// base resolves FROM: an earlier stage, scratch, or an image (pulled
// when the store lacks it).
func (b *builder) base(ctx context.Context, name string, progress io.Writer) (string, error) {
	b.mu.Lock()
	id, ok := b.built[strings.ToLower(name)]
	if !ok {
		id, ok = b.pulled[name]
	}
	b.mu.Unlock()
	if ok {
		return id, nil
	}
	if name == "scratch" {
		return b.scratch(ctx)
	}
	if !b.o.PullAlways {
		if in, err := b.e.ImageInspect(name); err == nil {
			return in.ID, nil
		} else if !errors.Is(err, engine.ErrNotFound) {
			return "", err
		}
	}
	p := b.o.Pull
	p.Progress = progress
	res, err := b.e.ImagePull(ctx, name, p)
	if err != nil {
		return "", err
	}
	if b.o.PullAlways {
		b.mu.Lock()
		b.pulled[name] = res.ID // once a build: each stage naming it gets the same
		b.mu.Unlock()
	}
	return res.ID, nil
}

// scratch is the image of no layers, the base of FROM scratch. It is
// kept in the build cache, so that images hides it as it hides the
// build's other intermediates.
func (b *builder) scratch(ctx context.Context) (string, error) {
	id, err := b.e.ImageScratch(ctx)
	if err != nil {
		return "", err
	}
	return id, b.cache.put(key("", "scratch"), id)
}

// expander expands a word with the stage's ARGs and ENV (ENV wins).
func (b *builder) expander(st *stageState) instructions.SingleWordExpander {
	env := envOf(st.args)
	env = append(env, st.cfg.Env...)
	getter := shell.EnvsFromSlice(env)
	return func(word string) (string, error) {
		w, err := b.word(word, getter)
		return w, err
	}
}

// command runs one instruction of a stage.
func (b *builder) command(ctx context.Context, st *stageState, cmd instructions.Command) error {
	if x, ok := cmd.(instructions.SupportsSingleWordExpansion); ok {
		if err := x.Expand(b.expander(st)); err != nil {
			return err
		}
	}
	st.key = key(st.key, codeOf(cmd))
	meta := func() {
		st.history = append(st.history, engine.HistoryStep{CreatedBy: codeOf(cmd), Created: time.Now().UTC(), Comment: historyComment})
	}
	switch c := cmd.(type) {
	case *instructions.ArgCommand:
		for _, kv := range c.Args {
			v, given := b.o.BuildArgs[kv.Key]
			switch {
			case given:
				b.use(kv.Key)
			case kv.Value != nil:
				v = *kv.Value
			default:
				v = b.globalArgs[kv.Key]
			}
			// Not in the key here: a value reaches only the RUN steps,
			// whose keys carry the ARGs they see.
			if _, ok := st.args[kv.Key]; !ok {
				st.argKeys = append(st.argKeys, kv.Key)
			}
			st.args[kv.Key] = v
		}
	case *instructions.EnvCommand:
		for _, kv := range c.Env {
			st.cfg.Env = setEnv(st.cfg.Env, kv.Key, kv.Value)
		}
		meta()
	case *instructions.LabelCommand:
		if st.cfg.Labels == nil {
			st.cfg.Labels = map[string]string{}
		}
		for _, kv := range c.Labels {
			st.cfg.Labels[kv.Key] = kv.Value
		}
		meta()
	case *instructions.MaintainerCommand:
		st.author = c.Maintainer
		meta()
	case *instructions.WorkdirCommand:
		p := c.Path
		if !path.IsAbs(p) {
			p = path.Join("/", st.cfg.WorkingDir, p)
		}
		st.cfg.WorkingDir = path.Clean(p)
		st.mkdirs = append(st.mkdirs, st.cfg.WorkingDir)
		meta()
	case *instructions.UserCommand:
		st.cfg.User = c.User
		meta()
	case *instructions.ExposeCommand:
		if st.cfg.ExposedPorts == nil {
			st.cfg.ExposedPorts = mobynetwork.PortSet{}
		}
		for _, p := range c.Ports {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			pp, err := mobynetwork.ParsePort(p)
			if err != nil {
				return err
			}
			st.cfg.ExposedPorts[pp] = struct{}{}
		}
		meta()
	case *instructions.VolumeCommand:
		if st.cfg.Volumes == nil {
			st.cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			st.cfg.Volumes[v] = struct{}{}
		}
		meta()
	case *instructions.EntrypointCommand:
		st.cfg.Entrypoint = st.cmdline(c.ShellDependantCmdLine)
		if !st.cmdSet {
			st.cfg.Cmd = nil // an ENTRYPOINT resets the base image's CMD
		}
		meta()
	case *instructions.CmdCommand:
		st.cfg.Cmd, st.cmdSet = st.cmdline(c.ShellDependantCmdLine), true
		meta()
	case *instructions.ShellCommand:
		st.shell, st.cfg.Shell = c.Shell, c.Shell
		meta()
	case *instructions.StopSignalCommand:
		st.cfg.StopSignal = c.Signal
		meta()
	case *instructions.HealthCheckCommand:
		st.cfg.Healthcheck = c.Health
		meta()
	case *instructions.OnbuildCommand:
		st.cfg.OnBuild = append(st.cfg.OnBuild, c.Expression)
		meta()
	case *instructions.RunCommand:
		return b.run(ctx, st, c)
	case *instructions.CopyCommand:
		return b.copy(ctx, st, cmd, copySpec{sources: c.SourcePaths, dest: c.DestPath, from: c.From, chown: c.Chown, chmod: c.Chmod,
			exclude: c.ExcludePatterns, parents: c.Parents, link: c.Link})
	case *instructions.AddCommand:
		return b.copy(ctx, st, cmd, copySpec{sources: c.SourcePaths, dest: c.DestPath, chown: c.Chown, chmod: c.Chmod, add: true,
			checksum: c.Checksum, unpack: c.Unpack, exclude: c.ExcludePatterns, keepGitDir: c.KeepGitDir != nil && *c.KeepGitDir, link: c.Link})
	default:
		return fmt.Errorf("%s is not supported yet", strings.ToUpper(cmd.Name()))
	}
	return nil
}

// cmdline is CMD's or ENTRYPOINT's argv: the shell form runs under the
// stage's SHELL.
func (st *stageState) cmdline(c instructions.ShellDependantCmdLine) []string {
	if c.PrependShell {
		return append(slices.Clone(st.shell), strings.Join(c.CmdLine, " "))
	}
	return c.CmdLine
}

// runArgs is a RUN's argv. A heredoc that is the whole command is the
// script the shell runs, or, when it starts with #!, a file to run
// (script is then its content and argv[0] where it goes); heredocs
// within a command line go to the shell with the line, which reads
// them itself.
func (st *stageState) runArgs(c *instructions.RunCommand) (args []string, script string, err error) {
	if !c.PrependShell {
		return c.CmdLine, "", nil
	}
	if len(c.Files) == 0 {
		return append(slices.Clone(st.shell), strings.Join(c.CmdLine, " ")), "", nil
	}
	if len(c.CmdLine) != 1 {
		return nil, "", errors.New("a RUN with a heredoc is one shell command line")
	}
	if h := parser.MustParseHeredoc(c.CmdLine[0]); h != nil {
		data := c.Files[0].Data
		if c.Files[0].Chomp {
			data = parser.ChompHeredocContent(data)
		}
		if strings.HasPrefix(data, "#!") {
			return []string{path.Join("/dev/pipes", c.Files[0].Name)}, data, nil
		}
		return append(slices.Clone(st.shell), data), "", nil
	}
	full := c.CmdLine[0]
	for _, f := range c.Files {
		full += "\n" + f.Data + f.Name
	}
	return append(slices.Clone(st.shell), full), "", nil
}

// defaultPath is the PATH a stage gets when its base sets none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// runCommandString is a RUN's command as its history entry shows it,
// as BuildKit writes it: the stage's ARGs first ("|2 A=1 B=2 "), so
// that the entry tells builds with other values apart.
func (st *stageState) runCommandString(args []string) string {
	var out []string
	for _, k := range st.argKeys {
		out = append(out, k+"="+st.args[k])
	}
	if len(out) > 0 {
		out = append([]string{"|" + strconv.Itoa(len(out))}, out...)
	}
	return strings.Join(append(out, args...), " ")
}

func setEnv(env []string, k, v string) []string {
	for i, kv := range env {
		if name, _, _ := strings.Cut(kv, "="); name == k {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// run is RUN: a container of the current image runs the command with
// the stage's environment (its ARGs too), and is committed as a layer.
func (b *builder) run(ctx context.Context, st *stageState, c *instructions.RunCommand) error {
	mounts, tmpfs, secretEnv, mountKey, done, err := b.runMounts(ctx, c, st.v)
	if err != nil {
		return err
	}
	defer done()
	args, script, err := st.runArgs(c)
	if err != nil {
		return err
	}
	if script != "" {
		// A heredoc that starts with #! runs as the program it names,
		// from a file of its own mounted where BuildKit mounts it.
		f, err := os.CreateTemp(b.stagingDir, "heredoc-")
		if err != nil {
			return err
		}
		name := f.Name()
		defer os.Remove(name) // the script's only copy
		_, werr := f.WriteString(script)
		if err := errors.Join(werr, f.Close(), os.Chmod(name, 0o755)); err != nil {
			return err
		}
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: name, Target: args[0], ReadOnly: true})
		mountKey = append(mountKey, "heredoc "+args[0]+" "+script)
	}
	env := slices.Clone(st.cfg.Env)
	for k, v := range st.args {
		if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, k+"=") }) {
			env = append(env, k+"="+v)
		}
	}
	network := mobycontainer.NetworkMode("")
	switch instructions.GetNetwork(c) {
	case instructions.NetworkNone:
		network = "none"
	case instructions.NetworkHost:
		network = "host"
	}
	// Secrets reach the process's environment, not the key or history.
	proc := &mobycontainer.Config{Cmd: args, Env: append(env, secretEnv...), User: st.cfg.User, WorkingDir: st.cfg.WorkingDir}
	return b.layer(ctx, st, step{proc: proc, network: network, createdBy: "RUN " + st.runCommandString(args) + " # buildkit",
		key: key(st.key, append(sortedPairs(st.args), mountKey...)...), mounts: mounts, tmpfs: tmpfs})
}

// step is one layer's work: a process to run (RUN), or a staged tree to
// copy into the container's / (COPY, ADD), or neither (WORKDIRs only).
type step struct {
	proc      *mobycontainer.Config
	network   mobycontainer.NetworkMode
	staged    string
	createdBy string
	key       string // the build cache's
	mounts    []mount.Mount
	tmpfs     map[string]string
	// owned is copied after staged, with its owners and modes: a COPY
	// --chown/--chmod's content, owned as chown says (resolved in the
	// step's image), into ownedDest.
	owned, ownedDest, chown string
	// kept is copied last, with the owners it has, into keptDest: ADD's
	// unpacked archives.
	kept, keptDest string
	// copies go straight from the host into the container (a plain COPY).
	copies []copyIn
}

// layer makes one layer: a container of the stage's current image, the
// WORKDIRs made and the staged files copied in, the process run, and
// the container committed with the stage's config; the container goes.
func (b *builder) layer(ctx context.Context, st *stageState, s step) (err error) {
	if id, ok := b.cache.get(b.e, s.key); ok {
		st.v.cached()
		st.image, st.history, st.mkdirs, st.key = id, nil, nil, s.key
		return b.recordInline(st)
	}
	if id, ok, err := b.fromExternal(ctx, st, s.key); err != nil {
		return err
	} else if ok {
		st.v.cached()
		st.image, st.history, st.mkdirs, st.key = id, nil, nil, s.key
		return b.recordInline(st)
	}
	defer func() {
		if err == nil {
			st.key = s.key
			err = errors.Join(b.cache.put(s.key, st.image), b.recordInline(st))
		}
	}()
	cfg := mobycontainer.Config{Image: st.image, Cmd: []string{"/bin/true"}, Entrypoint: []string{""}, Labels: b.stepLabels()}
	network := mobycontainer.NetworkMode("none") // a copy needs none
	var hosts []string
	if s.proc != nil {
		cfg.Cmd, cfg.Env, cfg.User, cfg.WorkingDir = s.proc.Cmd, s.proc.Env, s.proc.User, s.proc.WorkingDir
		network, hosts = s.network, b.o.ExtraHosts
		if network == "" && b.o.Network != "default" {
			network = mobycontainer.NetworkMode(b.o.Network)
		}
	}
	hc := mobycontainer.HostConfig{NetworkMode: network, Mounts: s.mounts, Tmpfs: s.tmpfs, ExtraHosts: hosts}
	if s.proc != nil { // a copy runs nothing of the user's: the defaults do
		sh := b.o.StepHost
		hc.Resources, hc.SecurityOpt, hc.ShmSize, hc.Isolation = sh.Resources, sh.SecurityOpt, sh.ShmSize, sh.Isolation
	}
	cr, err := b.e.ContainerCreate(ctx, engine.CreateOptions{Config: cfg, EndWithClient: true, HostConfig: hc})
	if err != nil {
		return err
	}
	defer func() {
		// The step's container goes in any case; if that fails, the
		// build's own error (or this one) says so.
		if rerr := b.e.ContainerRemove(context.Background(), cr.ID, engine.RemoveOptions{Force: true, Volumes: true}); rerr != nil && err == nil {
			err = rerr
		}
	}()
	staged := s.staged
	if len(st.mkdirs) > 0 {
		if staged == "" {
			dir, err := os.MkdirTemp(b.stagingDir, "step-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir) // a staging copy
			staged = dir
		}
		for _, d := range st.mkdirs {
			if err := os.MkdirAll(filepath.Join(staged, d), 0o755); err != nil {
				return err
			}
		}
	}
	if staged != "" {
		ents, err := os.ReadDir(staged)
		if err != nil {
			return err
		}
		for _, ent := range ents {
			if err := b.e.ContainerCopyTo(cr.ID, filepath.Join(staged, ent.Name()), "/"); err != nil {
				return err
			}
		}
	}
	if s.owned != "" {
		if err := b.own(cr.ID, s.owned, s.chown); err != nil {
			return err
		}
		if err := b.copyInto(cr.ID, s.owned, s.ownedDest); err != nil {
			return err
		}
	}
	for _, c := range s.copies {
		if err := b.e.ContainerCopyToWith(cr.ID, c.src, c.dst, engine.CopyOptions{Contents: c.contents, Parents: true}); err != nil {
			return err
		}
	}
	if s.kept != "" {
		if err := b.copyInto(cr.ID, s.kept, s.keptDest); err != nil {
			return err
		}
	}
	if s.proc != nil {
		// An interrupted build (Ctrl-C) kills the step's process; the
		// container goes with the deferred removal.
		stop := context.AfterFunc(ctx, func() { _ = b.e.ContainerKill(cr.ID, "KILL") }) // ended already: nothing to kill
		defer stop()
		res, err := b.e.ContainerStartAttached(ctx, cr.ID, engine.Streams{Stdout: st.v, Stderr: st.v.stderr()})
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted: %w", ctx.Err())
		}
		if err != nil {
			return err
		}
		if res.ExitCode != 0 {
			return &CommandError{Args: s.proc.Cmd, Code: res.ExitCode}
		}
	}
	var mountpoints []string
	for _, m := range s.mounts {
		mountpoints = append(mountpoints, m.Target)
	}
	for t := range s.tmpfs {
		mountpoints = append(mountpoints, t)
	}
	id, err := b.e.ContainerCommit(ctx, cr.ID, engine.CommitOptions{Config: &st.cfg, Author: st.author, CreatedBy: s.createdBy, History: st.history,
		Message: historyComment, Mountpoints: mountpoints, Adopt: true})
	if err != nil {
		return err
	}
	st.image, st.history, st.mkdirs = id, nil, nil
	return nil
}

// sortedPairs are a map's KEY=VALUE pairs in key order, for a cache key.
func sortedPairs(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// copyInto copies a tree's contents into dest in the container, with
// their owners and modes.
func (b *builder) copyInto(container, tree, dest string) error {
	ents, err := os.ReadDir(tree)
	if err != nil {
		return err
	}
	for _, ent := range ents {
		if err := b.e.ContainerCopyToWith(container, filepath.Join(tree, ent.Name()), dest, engine.CopyOptions{KeepOwner: true}); err != nil {
			return err
		}
	}
	return nil
}

// own gives a staged tree the owner --chown names, as the container's
// /etc/passwd and /etc/group resolve it (root without --chown).
func (b *builder) own(container, tree, spec string) error {
	var uid, gid uint32
	if spec != "" {
		var err error
		if uid, gid, err = b.e.ContainerUser(container, spec); err != nil {
			return fmt.Errorf("--chown=%s: %w", spec, err)
		}
	}
	return filepath.WalkDir(tree, func(p string, _ os.DirEntry, err error) error {
		if err != nil || p == tree {
			return err
		}
		return os.Lchown(p, int(uid), int(gid))
	})
}
