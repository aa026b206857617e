package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	mobyimage "github.com/moby/moby/api/types/image"
	mobyregistry "github.com/moby/moby/api/types/registry"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/format"
)

// registryFlags are the flags of commands that talk to a registry.
type registryFlags struct {
	tlsVerify bool
	authFile  string
}

func (r *registryFlags) add(c *cobra.Command) {
	c.Flags().BoolVar(&r.tlsVerify, "tls-verify", true, "require HTTPS and verify the registry's certificate")
	c.Flags().StringVar(&r.authFile, "authfile", "", "credentials file (default: Docker's config.json)")
}

func (r *registryFlags) options() engine.RegistryOptions {
	return engine.RegistryOptions{Insecure: !r.tlsVerify, AuthFile: r.authFile}
}

// progressTo is where pull and push show progress: stderr, or nowhere
// with --quiet.
func progressTo(quiet bool) io.Writer {
	if quiet {
		return nil
	}
	return os.Stderr
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

func addImageCommands(root *cobra.Command, g *globals) {
	imageCmd := &cobra.Command{Use: "image", Short: "Manage images"}
	p := hostPlatformFlag
	imageCmd.AddCommand(
		imagesCommand(g, "ls"), pullCommand(g), p(pushCommand(g)), p(inspectCommand(g, "inspect", "image")),
		p(historyCommand(g)), tagCommand(g), p(rmiCommand(g, "rm")), pruneCommand(g),
		p(saveCommand(g)), p(loadCommand(g)), importCommand(g), mountCommand(g), unmountCommand(g), buildCommand(g),
	)
	root.AddCommand(imageCmd,
		imagesCommand(g, "images"), pullCommand(g), p(pushCommand(g)), loginCommand(g), logoutCommand(g), searchCommand(g),
		inspectCommand(g, "inspect", ""), p(historyCommand(g)), tagCommand(g), p(rmiCommand(g, "rmi")),
		p(saveCommand(g)), p(loadCommand(g)), importCommand(g),
	)
}

func pullCommand(g *globals) *cobra.Command {
	var rf registryFlags
	var quiet, allTags bool
	var platform string
	c := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			ctx, cancel := interruptible()
			defer cancel()
			// As Docker's: the words on the way (here with the progress, on
			// stderr), the reference pulled last, on stdout.
			progress := progressTo(quiet)
			refs := args
			if allTags {
				if strings.ContainsAny(args[0][strings.LastIndexByte(args[0], '/')+1:], ":@") {
					return usageError{errors.New("tag can't be used with --all-tags/-a")}
				}
				tags, err := e.ImageTags(ctx, args[0], rf.options())
				if err != nil {
					return err
				}
				refs = nil
				for _, t := range tags {
					refs = append(refs, args[0]+":"+t)
				}
			} else if _, added := engine.WithDefaultTag(args[0]); added && !quiet {
				fmt.Fprintln(progress, "Using default tag: latest")
			}
			for _, ref := range refs {
				res, err := e.ImagePull(ctx, ref, engine.PullOptions{RegistryOptions: rf.options(), Platform: platform, Progress: progress})
				if err != nil {
					return err
				}
				if !quiet {
					fmt.Fprintf(progress, "Digest: %s\nStatus: Downloaded image for %s\n", res.Digest, res.Name)
				}
				fmt.Println(res.Name)
			}
			return nil
		},
	}
	rf.add(c)
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the image's name")
	c.Flags().BoolVarP(&allTags, "all-tags", "a", false, "download every tagged image in the repository")
	c.Flags().StringVar(&platform, "platform", "", "pull for this platform (os/arch[/variant])")
	c.Flags().Bool("disable-content-trust", true, "skip image verification (berth verifies no content trust)")
	return c
}

func pushCommand(g *globals) *cobra.Command {
	var rf registryFlags
	var quiet, allTags bool
	c := &cobra.Command{
		Use:   "push [OPTIONS] NAME[:TAG]",
		Short: "Upload an image to a registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			ctx, cancel := interruptible()
			defer cancel()
			refs := args
			if allTags {
				if refs, err = e.LocalTags(args[0]); err != nil {
					return err
				}
				if len(refs) == 0 {
					return fmt.Errorf("no tag of %s is here", args[0])
				}
			}
			for _, ref := range refs {
				d, err := e.ImagePush(ctx, ref, engine.PushOptions{RegistryOptions: rf.options(), Progress: progressTo(quiet)})
				if err != nil {
					return err
				}
				if !quiet {
					fmt.Printf("%s: digest: %s\n", ref, d)
				}
			}
			return nil
		},
	}
	rf.add(c)
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print nothing")
	c.Flags().BoolVarP(&allTags, "all-tags", "a", false, "push every tag of the repository that is here")
	c.Flags().Bool("disable-content-trust", true, "skip image signing (berth signs no content trust)")
	return c
}

func loginCommand(g *globals) *cobra.Command {
	var rf registryFlags
	var user, password string
	var stdin bool
	c := &cobra.Command{
		Use:   "login [OPTIONS] SERVER",
		Short: "Log in to a registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if stdin {
				if password != "" {
					return usageError{errors.New("--password and --password-stdin are mutually exclusive")}
				}
				b, err := io.ReadAll(bufio.NewReader(os.Stdin))
				if err != nil {
					return err
				}
				password = strings.TrimRight(string(b), "\r\n")
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			ctx, cancel := interruptible()
			defer cancel()
			if err := e.Login(ctx, args[0], user, password, rf.options()); err != nil {
				return err
			}
			fmt.Println("Login Succeeded")
			return nil
		},
	}
	rf.add(c)
	c.Flags().StringVarP(&user, "username", "u", "", "user name")
	c.Flags().StringVarP(&password, "password", "p", "", "password")
	c.Flags().BoolVar(&stdin, "password-stdin", false, "read the password from standard input")
	return c
}

func logoutCommand(g *globals) *cobra.Command {
	var authFile string
	c := &cobra.Command{
		Use:   "logout SERVER",
		Short: "Remove a registry's stored credentials",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			err = e.Logout(args[0], authFile)
			if errors.Is(err, engine.ErrNotLoggedIn) {
				fmt.Printf("Not logged in to %s\n", args[0]) // not a failure, as Docker's
				return nil
			}
			if err != nil {
				return err
			}
			fmt.Printf("Removing login credentials for %s\n", args[0])
			return nil
		},
	}
	c.Flags().StringVar(&authFile, "authfile", "", "credentials file (default: Docker's config.json)")
	return c
}

// imageRow is one row of `images`, with Docker's field names.
type imageRow struct {
	Repository, Tag, Digest, ID, CreatedSince, CreatedAt, Size, Containers string
}

func imagesCommand(g *globals, use string) *cobra.Command {
	var quiet, digests, noTrunc, all, tree bool
	var tmpl string
	var filters []string
	c := &cobra.Command{
		Use:   use + " [OPTIONS] [REPOSITORY[:TAG]]",
		Short: "List images",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			f, err := engine.ParseFilters(filters)
			if err != nil {
				return err
			}
			if len(args) == 1 {
				f["reference"] = append(f["reference"], args[0])
			}
			if tree {
				for _, no := range []struct {
					set  bool
					flag string
				}{{quiet, "--quiet"}, {tmpl != "", "--format"}, {digests, "--show-digest"}, {noTrunc, "--no-trunc"}} {
					if no.set {
						return fmt.Errorf("%s is not yet supported with --tree", no.flag)
					}
				}
			}
			imgs, err := e.ImageList(engine.ImageListOptions{All: all, Filters: f, Manifests: tree})
			if err != nil {
				return err
			}
			if tree {
				printImageTree(os.Stdout, imgs, all)
				return nil
			}
			def := "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			if digests {
				def = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			}
			if quiet {
				def = "{{.ID}}"
			} else if tmpl == "" {
				tmpl = configFormat("imagesFormat")
			}
			p, err := format.NewPrinter(os.Stdout, tmpl, def, map[string]string{"ID": "IMAGE ID", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT"})
			if err != nil {
				return usageError{err}
			}
			now := time.Now()
			for _, img := range imgs {
				id := img.ID
				if !noTrunc {
					id = strings.TrimPrefix(id, "sha256:")[:12]
				}
				created := time.Unix(img.Created, 0)
				base := imageRow{ID: id, Tag: "<none>", Repository: "<none>", Digest: "<none>",
					CreatedSince: format.Ago(created, now), CreatedAt: created.Format("2006-01-02 15:04:05 -0700 MST"),
					Size: format.Size(img.Size), Containers: fmt.Sprint(img.Containers)}
				rows := []imageRow{base}
				if len(img.RepoTags) > 0 {
					rows = rows[:0]
					for _, t := range img.RepoTags {
						row := base
						i := strings.LastIndexByte(t, ':')
						row.Repository, row.Tag = t[:i], t[i+1:]
						for _, d := range img.RepoDigests {
							if name, dg, _ := strings.Cut(d, "@"); name == row.Repository {
								row.Digest = dg
							}
						}
						rows = append(rows, row)
					}
				}
				if quiet {
					rows = rows[:1]
				}
				for _, row := range rows {
					if err := p.Row(row); err != nil {
						return err
					}
				}
			}
			return p.Flush()
		},
	}
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only image IDs")
	c.Flags().BoolVarP(&all, "all", "a", false, "show all images (berth keeps no intermediate images)")
	c.Flags().BoolVar(&digests, "digests", false, "show digests")
	c.Flags().BoolVar(&noTrunc, "no-trunc", false, "do not truncate IDs")
	c.Flags().BoolVar(&tree, "tree", false, "list each image with its platform variants, as a tree (experimental, as Docker's)")
	c.Flags().StringVar(&tmpl, "format", "", "Go template for each row, or 'table TEMPLATE'")
	c.Flags().StringArrayVarP(&filters, "filter", "f", nil, "filter: dangling=true|false, reference=PATTERN, label=, before=, since=")
	if use == "ls" {
		c.Aliases = []string{"list"} // image list, as Docker's
	}
	return c
}

type historyRow struct {
	ID, CreatedSince, CreatedAt, CreatedBy, Size, Comment string
}

func historyCommand(g *globals) *cobra.Command {
	var human, noTrunc, quiet bool
	var tmpl string
	c := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			hist, err := e.ImageHistory(args[0])
			if err != nil {
				return err
			}
			def := "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
			if quiet {
				def = "{{.ID}}"
			}
			p, err := format.NewPrinter(os.Stdout, tmpl, def, map[string]string{"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedBy": "CREATED BY", "CreatedAt": "CREATED AT"})
			if err != nil {
				return usageError{err}
			}
			now := time.Now()
			for _, h := range hist {
				created := time.Unix(h.Created, 0)
				row := historyRow{ID: h.ID, CreatedBy: h.CreatedBy, Comment: h.Comment,
					CreatedAt: created.Format(time.RFC3339), CreatedSince: format.Ago(created, now),
					Size: format.Size(h.Size)}
				if !human {
					row.CreatedSince, row.Size = row.CreatedAt, fmt.Sprint(h.Size)
				}
				if !noTrunc {
					if strings.HasPrefix(row.ID, "sha256:") {
						row.ID = row.ID[7:19]
					}
					if len(row.CreatedBy) > 45 {
						row.CreatedBy = row.CreatedBy[:44] + "…"
					}
				}
				if err := p.Row(row); err != nil {
					return err
				}
			}
			return p.Flush()
		},
	}
	c.Flags().BoolVarP(&human, "human", "H", true, "sizes and dates in human form")
	c.Flags().BoolVar(&noTrunc, "no-trunc", false, "do not truncate")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only IDs")
	c.Flags().StringVar(&tmpl, "format", "", "Go template")
	return c
}

func tagCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Give an image another name",
		Args:  cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			return g.with(func(e *engine.Engine) error { return e.ImageTag(args[0], args[1]) })
		},
	}
}

func printDeletes(rs []mobyimage.DeleteResponse) {
	for _, r := range rs {
		if r.Untagged != "" {
			fmt.Println("Untagged:", r.Untagged)
		}
	}
	for _, r := range rs {
		if r.Deleted != "" {
			fmt.Println("Deleted:", r.Deleted)
		}
	}
}

func rmiCommand(g *globals, use string) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   use + " [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove images",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			var failed error
			for _, a := range args {
				res, err := e.ImageRemove(a, force)
				printDeletes(res)
				if err != nil {
					fmt.Fprintln(os.Stderr, "Error:", oneLine(err))
					failed = exitError{1}
				}
			}
			return failed
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "remove even if in use or named more than once")
	// berth removes no untagged parents with an image, so there is
	// nothing to keep.
	c.Flags().Bool("no-prune", false, "do not delete untagged parents (berth never does)")
	if use == "rm" {
		c.Aliases = []string{"remove"} // image remove, as Docker's
	}
	return c
}

func pruneCommand(g *globals) *cobra.Command {
	var all, force bool
	var filters []string
	c := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			what := "all dangling images"
			if all {
				what = "all images without at least one container associated to them"
			}
			if !confirm(force, what) {
				return nil
			}
			f, err := engine.ParseFilters(filters)
			if err != nil {
				return err
			}
			if all {
				f["dangling"] = []string{"false"}
			}
			rep, err := e.ImagesPrune(f)
			if len(rep.ImagesDeleted) > 0 {
				fmt.Println("Deleted Images:")
				printDeletes(rep.ImagesDeleted)
				fmt.Println()
			}
			fmt.Println("Total reclaimed space:", format.Size(int64(rep.SpaceReclaimed)))
			return err
		},
	}
	c.Flags().BoolVarP(&all, "all", "a", false, "remove all unused images, not just dangling ones")
	c.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	c.Flags().StringArrayVar(&filters, "filter", nil, "filter: until=, label=, label!=")
	return c
}

func saveCommand(g *globals) *cobra.Command {
	var output, fmtName string
	c := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Write images to a tar archive (docker-archive or oci-archive)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			if output != "" {
				return e.ImageSaveFile(output, args, fmtName)
			}
			if isTerminal(os.Stdout) {
				return usageError{errors.New("refusing to write an archive to a terminal: use -o or redirect")}
			}
			return e.ImageSave(os.Stdout, args, fmtName)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of standard output")
	c.Flags().StringVar(&fmtName, "format", engine.DockerArchive, "docker-archive or oci-archive")
	return c
}

func loadCommand(g *globals) *cobra.Command {
	var input string
	var quiet bool
	c := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load images from a tar archive or an OCI layout directory",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			ctx, cancel := interruptible()
			defer cancel()
			var r io.Reader = os.Stdin
			var dir string
			if input != "" && input != "-" {
				if fi, err := os.Stat(input); err == nil && fi.IsDir() {
					dir = input
				} else {
					f, err := os.Open(input)
					if err != nil {
						return err
					}
					defer f.Close() // read only
					r = f
				}
			} else if isTerminal(os.Stdin) {
				return usageError{errors.New("requested load from stdin, but stdin is a terminal: use -i or redirect")}
			}
			loaded, err := e.ImageLoad(ctx, r, dir)
			for _, l := range loaded {
				if len(l.Names) == 0 {
					fmt.Println("Loaded image ID:", l.ID)
				}
				for _, n := range l.Names {
					fmt.Println("Loaded image:", n)
				}
			}
			return err
		},
	}
	c.Flags().StringVarP(&input, "input", "i", "", "archive file or OCI layout directory (default: standard input)")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print less")
	return c
}

func importCommand(g *globals) *cobra.Command {
	var o engine.ImportOptions
	c := &cobra.Command{
		Use:   "import [OPTIONS] FILE|- [REPOSITORY[:TAG]]",
		Short: "Make an image from a root filesystem tar",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			if len(args) == 2 {
				o.Ref = args[1]
			}
			var r io.Reader = os.Stdin
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close() // read only
				r = f
			}
			ctx, cancel := interruptible()
			defer cancel()
			id, err := e.ImageImport(ctx, r, o)
			if err != nil {
				return err
			}
			fmt.Println(id)
			return nil
		},
	}
	c.Flags().StringArrayVarP(&o.Changes, "change", "c", nil, "apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, ...)")
	c.Flags().StringVarP(&o.Message, "message", "m", "", "commit message for the image's history")
	c.Flags().StringVar(&o.Platform, "platform", "", "platform of the image (os/arch[/variant])")
	return c
}

func mountCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "mount IMAGE",
		Short: "Mount an image's root filesystem read-only and print where",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			dir, err := e.ImageMount(args[0])
			if err != nil {
				return err
			}
			fmt.Println(dir)
			return nil
		},
	}
}

func unmountCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "unmount IMAGE",
		Aliases: []string{"umount"},
		Short:   "Unmount an image mounted with image mount",
		Args:    cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return g.with(func(e *engine.Engine) error { return e.ImageUnmount(args[0]) })
		},
	}
}

// searchRow is one line of search.
type searchRow struct {
	Name, Description, StarCount, IsOfficial, IsAutomated string
}

// searchCommand is search: a registry's catalog (REGISTRY/TERM), as the
// engine searches; Docker Hub's index is not a catalog.
func searchCommand(g *globals) *cobra.Command {
	var rf registryFlags
	var limit int
	var tmpl string
	var filters []string
	c := &cobra.Command{
		Use:   "search [OPTIONS] REGISTRY/TERM",
		Short: "Search a registry for images",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			keep := func(r mobyregistry.SearchResult) bool { return true }
			for _, f := range filters {
				k, v, _ := strings.Cut(f, "=")
				prev := keep
				switch k {
				case "stars":
					n, err := strconv.Atoi(v)
					if err != nil {
						return usageError{fmt.Errorf("invalid filter 'stars=%s'", v)}
					}
					keep = func(r mobyregistry.SearchResult) bool { return prev(r) && r.StarCount >= n }
				case "is-official", "is-automated":
					want, err := strconv.ParseBool(v)
					if err != nil {
						return usageError{fmt.Errorf("invalid filter '%s=%s'", k, v)}
					}
					keep = func(r mobyregistry.SearchResult) bool {
						got := r.IsOfficial
						if k == "is-automated" {
							got = r.IsAutomated // deprecated by Docker, still a filter of its CLI
						}
						return prev(r) && got == want
					}
				default:
					return usageError{fmt.Errorf("invalid filter %q: want stars=, is-official= or is-automated=", f)}
				}
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			ctx, cancel := interruptible()
			defer cancel()
			res, err := e.ImageSearch(ctx, args[0], limit, rf.options())
			if err != nil {
				return err
			}
			var rows []searchRow
			for _, r := range res {
				if !keep(r) {
					continue
				}
				rows = append(rows, searchRow{Name: r.Name, Description: r.Description, StarCount: strconv.Itoa(r.StarCount),
					IsOfficial: boolMark(r.IsOfficial), IsAutomated: boolMark(r.IsAutomated)})
			}
			return printRows(tmpl, "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}", map[string]string{"StarCount": "STARS", "IsOfficial": "OFFICIAL"}, rows)
		},
	}
	c.Flags().IntVar(&limit, "limit", 25, "max number of search results")
	c.Flags().StringVar(&tmpl, "format", "", "Go template, or 'table TEMPLATE'")
	c.Flags().StringArrayVarP(&filters, "filter", "f", nil, "filter: stars=, is-official=, is-automated=")
	c.Flags().Bool("no-trunc", false, "do not truncate output")
	rf.add(c)
	return c
}

func boolMark(b bool) string {
	if b {
		return "[OK]"
	}
	return ""
}
