package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/format"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/image/reference"
	"github.com/berth-project/berth/internal/progress"
	"github.com/berth-project/berth/internal/runtime"
)

// images is the image service, knowing which images containers use.
func (g *globals) images() (*image.Service, error) {
	e, err := g.engine()
	if err != nil {
		return nil, err
	}
	return e.Images, nil
}

// image opens the image service and finds ref in it.
func (g *globals) image(ref string) (*image.Service, *image.Image, error) {
	svc, err := g.images()
	if err != nil {
		return nil, nil, err
	}
	img, err := svc.Get(ref)
	return svc, img, err
}

// interruptible is a context that ends on SIGINT or SIGTERM, so an
// interrupted pull cleans up after itself.
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// registryFlags are the flags of commands that talk to a registry.
type registryFlags struct {
	tlsVerify bool
	authFile  string
}

func (r *registryFlags) add(c *cobra.Command) {
	c.Flags().BoolVar(&r.tlsVerify, "tls-verify", true, "require HTTPS and verify the registry's certificate")
	c.Flags().StringVar(&r.authFile, "authfile", "", "credentials file (default: Docker's config.json)")
}

func (r *registryFlags) options() image.RegistryOptions {
	o := image.RegistryOptions{Insecure: !r.tlsVerify, UserAgent: "berth/" + runtime.Version}
	if r.authFile != "" {
		o.Keychain = image.FileKeychain(r.authFile)
	}
	return o
}

func reporter(quiet bool) progress.Reporter {
	if quiet {
		return progress.New(io.Discard, progress.Quiet)
	}
	return progress.New(os.Stderr, progress.Auto)
}

func addImageCommands(root *cobra.Command, g *globals) {
	imageCmd := &cobra.Command{Use: "image", Short: "Manage images"}
	systemCmd := &cobra.Command{Use: "system", Short: "Manage berth"}
	systemCmd.AddCommand(dfCommand(g))
	imageCmd.AddCommand(
		imagesCommand(g, "ls"), pullCommand(g), pushCommand(g), inspectCommand(g, "inspect", "image"),
		historyCommand(g), tagCommand(g), rmiCommand(g, "rm"), pruneCommand(g),
		saveCommand(g), loadCommand(g), importCommand(g), mountCommand(g), unmountCommand(g),
	)
	root.AddCommand(imageCmd, systemCmd,
		imagesCommand(g, "images"), pullCommand(g), pushCommand(g), loginCommand(), logoutCommand(),
		inspectCommand(g, "inspect", ""), historyCommand(g), tagCommand(g), rmiCommand(g, "rmi"),
		saveCommand(g), loadCommand(g), importCommand(g),
	)
}

func pullCommand(g *globals) *cobra.Command {
	var rf registryFlags
	var quiet bool
	var platform string
	c := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			svc, err := g.images()
			if err != nil {
				return err
			}
			o := image.PullOptions{RegistryOptions: rf.options(), Progress: reporter(quiet)}
			if platform != "" {
				if o.Platform, err = v1.ParsePlatform(platform); err != nil {
					return usageError{fmt.Errorf("--platform %q: %w", platform, err)}
				}
			}
			ctx, cancel := interruptible()
			defer cancel()
			img, err := svc.Pull(ctx, args[0], o)
			if err != nil {
				return err
			}
			if quiet {
				r, _ := reference.Parse(args[0])
				fmt.Println(r.String())
				return nil
			}
			fmt.Fprintf(os.Stderr, "Digest: %s\n", strings.SplitN(img.RepoDigests[0], "@", 2)[1])
			fmt.Println(img.ID.String())
			return nil
		},
	}
	rf.add(c)
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the image's name")
	c.Flags().StringVar(&platform, "platform", "", "pull for this platform (os/arch[/variant])")
	return c
}

func pushCommand(g *globals) *cobra.Command {
	var rf registryFlags
	var quiet bool
	c := &cobra.Command{
		Use:   "push [OPTIONS] NAME[:TAG]",
		Short: "Upload an image to a registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			svc, err := g.images()
			if err != nil {
				return err
			}
			ctx, cancel := interruptible()
			defer cancel()
			d, err := svc.Push(ctx, args[0], image.PushOptions{RegistryOptions: rf.options(), Progress: reporter(quiet)})
			if err != nil {
				return err
			}
			if !quiet {
				fmt.Printf("%s: digest: %s\n", args[0], d)
			}
			return nil
		},
	}
	rf.add(c)
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print nothing")
	return c
}

func loginCommand() *cobra.Command {
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
			ctx, cancel := interruptible()
			defer cancel()
			if err := image.Login(ctx, args[0], user, password, rf.authFile, rf.options()); err != nil {
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

func logoutCommand() *cobra.Command {
	var authFile string
	c := &cobra.Command{
		Use:   "logout SERVER",
		Short: "Remove a registry's stored credentials",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := image.Logout(args[0], authFile); err != nil {
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
	Repository, Tag, Digest, ID, CreatedSince, CreatedAt, Size string
}

func imagesCommand(g *globals, use string) *cobra.Command {
	var quiet, digests, noTrunc, all bool
	var tmpl string
	var filters []string
	c := &cobra.Command{
		Use:   use + " [OPTIONS] [REPOSITORY[:TAG]]",
		Short: "List images",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			svc, err := g.images()
			if err != nil {
				return err
			}
			imgs, err := svc.List()
			if err != nil {
				return err
			}
			match, err := imageFilter(filters, args)
			if err != nil {
				return err
			}
			def := "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			if digests {
				def = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			}
			if quiet {
				def = "{{.ID}}"
			}
			p, err := format.NewPrinter(os.Stdout, tmpl, def, map[string]string{"ID": "IMAGE ID", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT"})
			if err != nil {
				return usageError{err}
			}
			now := time.Now()
			seen := map[string]bool{}
			for i := len(imgs) - 1; i >= 0; i-- { // newest first
				img := imgs[i]
				id := img.ID.String()
				if !noTrunc {
					id = img.ID.Hex[:12]
				}
				base := imageRow{ID: id, Tag: "<none>", Repository: "<none>", Digest: "<none>",
					CreatedSince: format.Ago(img.Config.Created.Time, now),
					CreatedAt:    img.Config.Created.Format("2006-01-02 15:04:05 -0700 MST"),
					Size:         format.Size(svc.Size(img))}
				rows := []imageRow{base}
				if len(img.Names) > 0 {
					rows = rows[:0]
					for _, n := range img.Names {
						r, _ := reference.Parse(n)
						row := base
						row.Repository, row.Tag = reference.FamiliarName(r.Name()), r.Tag
						for _, d := range img.RepoDigests {
							if name, dg, _ := strings.Cut(d, "@"); name == r.Name() {
								row.Digest = dg
							}
						}
						rows = append(rows, row)
					}
				}
				for _, row := range rows {
					if !match(img, row.Repository, row.Tag) {
						continue
					}
					if quiet && seen[row.ID] {
						continue
					}
					seen[row.ID] = true
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
	c.Flags().StringVar(&tmpl, "format", "", "Go template for each row, or 'table TEMPLATE'")
	c.Flags().StringArrayVarP(&filters, "filter", "f", nil, "filter: dangling=true|false, reference=PATTERN")
	return c
}

// imageFilter builds the row predicate of `images` from --filter and a
// REPOSITORY[:TAG] argument.
func imageFilter(filters, args []string) (func(img *image.Image, repo, tag string) bool, error) {
	type pred func(img *image.Image, repo, tag string) bool
	var preds []pred
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, usageError{fmt.Errorf("bad filter %q: want key=value", f)}
		}
		switch k {
		case "dangling":
			want := v == "true"
			if v != "true" && v != "false" {
				return nil, usageError{fmt.Errorf("bad filter %q: dangling is true or false", f)}
			}
			preds = append(preds, func(img *image.Image, _, _ string) bool { return (len(img.Names) == 0) == want })
		case "reference":
			pat := v
			preds = append(preds, func(_ *image.Image, repo, tag string) bool { return globMatch(pat, repo, tag) })
		default:
			return nil, usageError{fmt.Errorf("unsupported filter %q (dangling, reference)", k)}
		}
	}
	if len(args) == 1 {
		pat := args[0]
		preds = append(preds, func(_ *image.Image, repo, tag string) bool { return globMatch(pat, repo, tag) })
	}
	return func(img *image.Image, repo, tag string) bool {
		for _, p := range preds {
			if !p(img, repo, tag) {
				return false
			}
		}
		return true
	}, nil
}

// globMatch matches "repo" or "repo:tag" patterns with * wildcards.
func globMatch(pat, repo, tag string) bool {
	prepo, ptag, hasTag := strings.Cut(pat, ":")
	if ok, _ := path.Match(prepo, repo); !ok {
		return false
	}
	if hasTag {
		ok, _ := path.Match(ptag, tag)
		return ok
	}
	return true
}

func inspectCommand(g *globals, use, only string) *cobra.Command {
	var tmpl, kind string
	c := &cobra.Command{
		Use:   use + " [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Show containers or images in detail (JSON)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			var out []any
			var firstErr error
			for _, a := range args {
				if kind != "image" {
					if ctr, err := e.Get(a); err == nil {
						out = append(out, e.Inspect(ctr))
						continue
					}
				}
				if kind != "container" {
					if img, err := e.Images.Get(a); err == nil {
						out = append(out, e.Images.Inspect(img))
						continue
					}
				}
				if firstErr == nil {
					firstErr = fmt.Errorf("no such object: %s", a)
				}
			}
			if err := printObjects(tmpl, out); err != nil {
				return err
			}
			return firstErr
		},
	}
	c.Flags().StringVarP(&tmpl, "format", "f", "", "Go template")
	c.Flags().StringVar(&kind, "type", only, "container or image")
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
			svc, img, err := g.image(args[0])
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
			for _, h := range svc.History(img) {
				row := historyRow{ID: h.ID, CreatedBy: h.CreatedBy, Comment: h.Comment,
					CreatedAt: h.Created.Format(time.RFC3339), CreatedSince: format.Ago(h.Created, now),
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
			svc, err := g.images()
			if err != nil {
				return err
			}
			return svc.Tag(args[0], args[1])
		},
	}
}

func printRemoval(r image.Removal) {
	for _, u := range r.Untagged {
		fmt.Println("Untagged:", u)
	}
	for _, d := range r.Deleted {
		fmt.Println("Deleted:", d)
	}
}

func rmiCommand(g *globals, use string) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   use + " [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove images",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			svc, err := g.images()
			if err != nil {
				return err
			}
			var firstErr error
			for _, a := range args {
				res, err := svc.Remove(a, force)
				printRemoval(res)
				if err != nil {
					fmt.Fprintln(os.Stderr, "Error:", oneLine(err))
					firstErr = exitError{1}
				}
			}
			return firstErr
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "remove even if in use or named more than once")
	return c
}

func pruneCommand(g *globals) *cobra.Command {
	var all, yes bool
	c := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			svc, err := g.images()
			if err != nil {
				return err
			}
			if !yes && progress.IsTerminal(os.Stdin) {
				what := "all dangling images"
				if all {
					what = "all images without at least one container associated to them"
				}
				fmt.Printf("WARNING! This will remove %s.\nAre you sure you want to continue? [y/N] ", what)
				line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
				if a := strings.TrimSpace(strings.ToLower(line)); a != "y" && a != "yes" {
					return nil
				}
			}
			res, err := svc.Prune(all)
			if len(res.Untagged)+len(res.Deleted) > 0 {
				fmt.Println("Deleted Images:")
				printRemoval(res)
				fmt.Println()
			}
			fmt.Println("Total reclaimed space:", format.Size(res.Freed))
			return err
		},
	}
	c.Flags().BoolVarP(&all, "all", "a", false, "remove all unused images, not just dangling ones")
	c.Flags().BoolVarP(&yes, "force", "f", false, "do not ask for confirmation")
	return c
}

func saveCommand(g *globals) *cobra.Command {
	var output, fmtName string
	c := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Write images to a tar archive (docker-archive or oci-archive)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			svc, err := g.images()
			if err != nil {
				return err
			}
			if output == "" {
				if progress.IsTerminal(os.Stdout) {
					return usageError{errors.New("refusing to write an archive to a terminal: use -o or redirect")}
				}
				return svc.Save(os.Stdout, args, fmtName)
			}
			// Write beside the target and rename: an interrupted save
			// leaves no truncated archive under the name.
			tmp, err := os.CreateTemp(dirOf(output), ".berth-save-*")
			if err != nil {
				return err
			}
			defer os.Remove(tmp.Name())
			if err := svc.Save(tmp, args, fmtName); err != nil {
				tmp.Close()
				return err
			}
			if err := tmp.Close(); err != nil {
				return err
			}
			os.Chmod(tmp.Name(), 0o644)
			return os.Rename(tmp.Name(), output)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of standard output")
	c.Flags().StringVar(&fmtName, "format", image.DockerArchive, "docker-archive or oci-archive")
	return c
}

func dirOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		if i == 0 {
			return "/"
		}
		return p[:i]
	}
	return "."
}

func loadCommand(g *globals) *cobra.Command {
	var input string
	var quiet bool
	c := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load images from a tar archive or an OCI layout directory",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			svc, err := g.images()
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
					defer f.Close()
					r = f
				}
			} else if progress.IsTerminal(os.Stdin) {
				return usageError{errors.New("requested load from stdin, but stdin is a terminal: use -i or redirect")}
			}
			loaded, err := svc.Load(ctx, r, dir, reporter(true))
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
	var changes []string
	var message, platform string
	c := &cobra.Command{
		Use:   "import [OPTIONS] FILE|- [REPOSITORY[:TAG]]",
		Short: "Make an image from a root filesystem tar",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(_ *cobra.Command, args []string) error {
			svc, err := g.images()
			if err != nil {
				return err
			}
			o := image.ImportOptions{Changes: changes, Message: message}
			if len(args) == 2 {
				o.Ref = args[1]
			}
			if platform != "" {
				if o.Platform, err = v1.ParsePlatform(platform); err != nil {
					return usageError{fmt.Errorf("--platform %q: %w", platform, err)}
				}
			}
			var r io.Reader = os.Stdin
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			}
			ctx, cancel := interruptible()
			defer cancel()
			img, err := svc.Import(ctx, r, o)
			if err != nil {
				return err
			}
			fmt.Println(img.ID)
			return nil
		},
	}
	c.Flags().StringArrayVarP(&changes, "change", "c", nil, "apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, ...)")
	c.Flags().StringVarP(&message, "message", "m", "", "commit message for the image's history")
	c.Flags().StringVar(&platform, "platform", "", "platform of the image (os/arch[/variant])")
	return c
}

func dfCommand(g *globals) *cobra.Command {
	var tmpl string
	c := &cobra.Command{
		Use:   "df",
		Short: "Show berth's disk usage",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			svc, err := g.images()
			if err != nil {
				return err
			}
			du, err := svc.DiskUsage()
			if err != nil {
				return err
			}
			p, err := format.NewPrinter(os.Stdout, tmpl, "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
				map[string]string{"TotalCount": "TOTAL"})
			if err != nil {
				return usageError{err}
			}
			pct := 0
			if du.Size > 0 {
				pct = int(du.Reclaimable * 100 / du.Size)
			}
			type row struct {
				Type               string
				TotalCount, Active int
				Size, Reclaimable  string
			}
			if err := p.Row(row{"Images", du.Total, du.Active, format.Size(du.Size), fmt.Sprintf("%s (%d%%)", format.Size(du.Reclaimable), pct)}); err != nil {
				return err
			}
			return p.Flush()
		},
	}
	c.Flags().StringVar(&tmpl, "format", "", "Go template")
	return c
}

// printTemplate runs a --format template over each object's JSON form,
// as Docker's inspect does, so fields are named as in the JSON
// ({{.Id}}, {{.State.Pid}}).
func printTemplate[T any](tmpl string, objs []T) error {
	p, err := format.NewPrinter(os.Stdout, tmpl, "", nil)
	if err != nil {
		return usageError{err}
	}
	for _, o := range objs {
		b, err := json.Marshal(o)
		if err != nil {
			return err
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		if err := p.Row(v); err != nil {
			return err
		}
	}
	return nil
}
