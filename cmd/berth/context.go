package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/clicontext"
)

// The context verbs keep the docker CLI's contexts (its store, its
// layout), so that `berth context create berth --docker
// host=unix:///run/berth/docker.sock && berth context use berth` points
// the docker CLI and the tools that read its contexts at berth serve.
// berth's own verbs drive the local engine whatever the context.

// contextRow is a line of context ls; its JSON is the docker CLI's.
type contextRow struct {
	Current        bool   `json:"Current"`
	Description    string `json:"Description"`
	DockerEndpoint string `json:"DockerEndpoint"`
	Error          string `json:"Error"`
	Name           string `json:"Name"`
}

// contextInspect is context inspect's object, the docker CLI's.
type contextInspect struct {
	clicontext.Context
	TLSMaterial map[string][]string `json:"TLSMaterial"`
	Storage     struct {
		MetadataPath string `json:"MetadataPath"`
		TLSPath      string `json:"TLSPath"`
	} `json:"Storage"`
}

func contextCommand() *cobra.Command {
	c := &cobra.Command{Use: "context", Short: "Manage contexts (the docker CLI's)"}
	c.AddCommand(contextCreate(), contextLs(), contextUse(), contextShow(), contextInspectCmd(), contextRm(),
		contextUpdate(), contextExport(), contextImport())
	return c
}

// endpointOf reads --docker host=…,skip-tls-verify=…,ca=,cert=,key=.
func endpointOf(opts map[string]string) (clicontext.Endpoint, map[string]string, error) {
	var ep clicontext.Endpoint
	tls := map[string]string{}
	for k, v := range opts {
		switch k {
		case "host":
			ep.Host = v
		case "skip-tls-verify":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return ep, nil, fmt.Errorf("--docker skip-tls-verify=%s: want true or false", v)
			}
			ep.SkipTLSVerify = b
		case "ca", "cert", "key":
			tls[k] = v
		case "from":
		default:
			return ep, nil, fmt.Errorf("--docker: unrecognized config key %q", k)
		}
	}
	return ep, tls, nil
}

func contextCreate() *cobra.Command {
	var description, from string
	var docker map[string]string
	c := &cobra.Command{
		Use: "create [OPTIONS] CONTEXT", Short: "Create a context", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			s, name := clicontext.Open(), args[0]
			if err := clicontext.CheckName(name); err != nil {
				return err
			}
			if _, err := s.Get(name); err == nil {
				return fmt.Errorf("context %q already exists", name)
			}
			ep, tls, err := endpointOf(docker)
			if err != nil {
				return usageError{err}
			}
			src := from
			if f, ok := docker["from"]; ok {
				src = f
			}
			if src != "" || ep.Host == "" {
				// From a named context, or the current environment's.
				if src == "" {
					src = clicontext.DefaultName
				}
				base, err := s.Get(src)
				if err != nil {
					return err
				}
				if ep.Host == "" {
					ep = base.Docker()
				}
			}
			if err := s.SaveTLS(name, tls); err != nil {
				return err
			}
			if err := s.Save(clicontext.Context{Name: name, Metadata: clicontext.Metadata{Description: description},
				Endpoints: map[string]clicontext.Endpoint{"docker": ep}}); err != nil {
				return err
			}
			fmt.Println(name)
			fmt.Fprintf(os.Stderr, "Successfully created context %q\n", name)
			return nil
		},
	}
	c.Flags().StringVar(&description, "description", "", "description of the context")
	c.Flags().StringToStringVar(&docker, "docker", nil, "the Docker endpoint: host=URL[,skip-tls-verify=BOOL][,ca=FILE,cert=FILE,key=FILE]")
	c.Flags().StringVar(&from, "from", "", "create the context from a named context")
	return c
}

func contextLs() *cobra.Command {
	var tmpl string
	var quiet bool
	c := &cobra.Command{
		Use: "ls [OPTIONS]", Aliases: []string{"list"}, Short: "List contexts", Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			s := clicontext.Open()
			all, err := s.List()
			if err != nil {
				return err
			}
			cur := s.Current()
			var rows []contextRow
			for _, c := range all {
				r := contextRow{Name: c.Name, Description: c.Metadata.Description, DockerEndpoint: c.Docker().Host, Current: c.Name == cur}
				if quiet {
					fmt.Println(r.Name)
					continue
				}
				if r.Current && (tmpl == "" || tmpl == "table") {
					r.Name += " *" // in the table only, as the docker CLI marks it
				}
				rows = append(rows, r)
			}
			if quiet {
				return nil
			}
			return printRows(tmpl, "table {{.Name}}\t{{.Description}}\t{{.DockerEndpoint}}\t{{.Error}}",
				map[string]string{"DockerEndpoint": "DOCKER ENDPOINT"}, rows)
		},
	}
	c.Flags().StringVar(&tmpl, "format", "", "Go template, 'table TEMPLATE' or 'json'")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "only show context names")
	return c
}

func contextUse() *cobra.Command {
	return &cobra.Command{
		Use: "use CONTEXT", Short: "Set the current docker context", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := clicontext.Open().Use(args[0]); err != nil {
				return err
			}
			fmt.Println(args[0])
			if os.Getenv("DOCKER_HOST") != "" {
				fmt.Fprintln(os.Stderr, "Warning: DOCKER_HOST environment variable overrides the active context. To use a context, either set the global --context flag, or unset DOCKER_HOST environment variable.")
			}
			fmt.Fprintf(os.Stderr, "Current context is now %q\n", args[0])
			return nil
		},
	}
}

func contextShow() *cobra.Command {
	return &cobra.Command{
		Use: "show", Short: "Print the name of the current context", Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			fmt.Println(clicontext.Open().Current())
			return nil
		},
	}
}

func contextInspectCmd() *cobra.Command {
	var tmpl string
	c := &cobra.Command{
		Use: "inspect [OPTIONS] [CONTEXT] [CONTEXT...]", Short: "Display detailed information on one or more contexts",
		RunE: func(_ *cobra.Command, args []string) error {
			s := clicontext.Open()
			if len(args) == 0 {
				args = []string{s.Current()}
			}
			var out []contextInspect
			for _, n := range args {
				c, err := s.Get(n)
				if err != nil {
					return err
				}
				in := contextInspect{Context: c, TLSMaterial: map[string][]string{}}
				if n != clicontext.DefaultName {
					in.Storage.MetadataPath, in.Storage.TLSPath = s.MetaDir(n), s.TLSDir(n)
					if ents, err := os.ReadDir(s.TLSDir(n) + "/docker"); err == nil {
						for _, e := range ents {
							in.TLSMaterial["docker"] = append(in.TLSMaterial["docker"], e.Name())
						}
					}
				} else {
					in.Storage.MetadataPath, in.Storage.TLSPath = "<IN MEMORY>", "<IN MEMORY>"
				}
				out = append(out, in)
			}
			return printObjects(tmpl, out)
		},
	}
	c.Flags().StringVarP(&tmpl, "format", "f", "", "Go template, or 'json'")
	return c
}

func contextRm() *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use: "rm CONTEXT [CONTEXT...]", Aliases: []string{"remove"}, Short: "Remove one or more contexts", Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			s := clicontext.Open()
			return eachName(args, func(n string) error {
				if n == clicontext.DefaultName {
					return fmt.Errorf("context %q cannot be removed", n)
				}
				if s.Current() == n {
					if !force {
						return fmt.Errorf("context %q is in use, set -f flag to force remove", n)
					}
					if err := s.Use(clicontext.DefaultName); err != nil {
						return err
					}
				}
				return s.Remove(n)
			})
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "force the removal of a context in use")
	return c
}

func contextUpdate() *cobra.Command {
	var description string
	var docker map[string]string
	c := &cobra.Command{
		Use: "update [OPTIONS] CONTEXT", Short: "Update a context", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, name := clicontext.Open(), args[0]
			if name == clicontext.DefaultName {
				return fmt.Errorf("context %q cannot be updated", name)
			}
			ctx, err := s.Get(name)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("description") {
				ctx.Metadata.Description = description
			}
			if len(docker) > 0 {
				ep, tls, err := endpointOf(docker)
				if err != nil {
					return usageError{err}
				}
				if ep.Host == "" {
					ep.Host = ctx.Docker().Host
				}
				if err := s.SaveTLS(name, tls); err != nil {
					return err
				}
				ctx.Endpoints = map[string]clicontext.Endpoint{"docker": ep}
			}
			if err := s.Save(ctx); err != nil {
				return err
			}
			fmt.Println(name)
			fmt.Fprintf(os.Stderr, "Successfully updated context %q\n", name)
			return nil
		},
	}
	c.Flags().StringVar(&description, "description", "", "description of the context")
	c.Flags().StringToStringVar(&docker, "docker", nil, "the Docker endpoint: host=URL[,skip-tls-verify=BOOL][,ca=FILE,cert=FILE,key=FILE]")
	return c
}

func contextExport() *cobra.Command {
	return &cobra.Command{
		Use: "export [OPTIONS] CONTEXT [FILE|-]", Short: "Export a context to a tar archive FILE or a tar stream on STDOUT",
		Args: cobra.RangeArgs(1, 2),
		RunE: func(_ *cobra.Command, args []string) error {
			name, file := args[0], args[0]+".dockercontext"
			if len(args) == 2 {
				file = args[1]
			}
			s := clicontext.Open()
			if file == "-" {
				return s.Export(name, os.Stdout)
			}
			f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return err
			}
			if err := s.Export(name, f); err != nil {
				// A half-written export is none; the export's error is the
				// one to report.
				_ = f.Close()
				_ = os.Remove(file)
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "Written file %q\n", file)
			return nil
		},
	}
}

func contextImport() *cobra.Command {
	return &cobra.Command{
		Use: "import CONTEXT FILE|-", Short: "Import a context from a tar or zip file", Args: cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			in := os.Stdin
			if args[1] != "-" {
				f, err := os.Open(args[1])
				if err != nil {
					return err
				}
				defer f.Close() // read only
				in = f
			}
			if err := clicontext.Open().Import(args[0], in); err != nil {
				return err
			}
			fmt.Println(args[0])
			fmt.Fprintf(os.Stderr, "Successfully imported context %q\n", args[0])
			return nil
		},
	}
}
