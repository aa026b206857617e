package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/engine"
)

func volumeCommand(g *globals) *cobra.Command {
	v := &cobra.Command{Use: "volume", Short: "Manage volumes"}
	var labels []string
	var driver string
	var volOpts []string
	create := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			o := engine.VolumeCreateOptions{Driver: driver, Labels: labelMap(labels)}
			if o.DriverOpts, err = keyValues("opt", volOpts); err != nil {
				return err
			}
			if len(args) == 1 {
				o.Name = args[0]
			}
			vol, err := e.VolumeCreate(o)
			if err != nil {
				return err
			}
			fmt.Println(vol.Name)
			return nil
		},
	}
	create.Flags().StringArrayVarP(&labels, "label", "l", nil, "set metadata")
	create.Flags().StringVarP(&driver, "driver", "d", "local", "volume driver (local only)")
	create.Flags().StringArrayVarP(&volOpts, "opt", "o", nil, "set a driver option: type, device, o (a mount made when a container first uses the volume)")

	var quiet bool
	var tmpl string
	var filters []string
	ls := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			f, err := engine.ParseFilters(filters)
			if err != nil {
				return err
			}
			vols, err := e.VolumeList(f)
			if err != nil {
				return err
			}
			def := "table {{.Driver}}\t{{.Name}}"
			if quiet {
				def = "{{.Name}}"
			}
			return printRows(tmpl, def, map[string]string{"Name": "VOLUME NAME"}, vols)
		},
	}
	ls.Flags().BoolVarP(&quiet, "quiet", "q", false, "only display volume names")
	ls.Flags().StringVar(&tmpl, "format", "", "Go template, or 'table TEMPLATE'")
	ls.Flags().StringArrayVarP(&filters, "filter", "f", nil, "filter: name=, label=, driver=, dangling=")

	var itmpl string
	inspect := &cobra.Command{
		Use:   "inspect [OPTIONS] VOLUME [VOLUME...]",
		Short: "Show volumes in detail (JSON)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			var out []any
			for _, a := range args {
				vol, err := e.VolumeInspect(a)
				if err != nil {
					return err
				}
				out = append(out, vol)
			}
			return printObjects(itmpl, out)
		},
	}
	inspect.Flags().StringVarP(&itmpl, "format", "f", "", "Go template")

	var force bool
	rm := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove volumes",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return g.with(func(e *engine.Engine) error {
				return eachName(args, func(a string) error {
					err := e.VolumeRemove(a, force)
					if force && errors.Is(err, engine.ErrNotFound) {
						return nil // -f: what is not there is removed, as Docker's
					}
					return err
				})
			})
		},
	}
	rm.Flags().BoolVarP(&force, "force", "f", false, "remove even if in use")

	prune := pruneCommandOf(g, "Remove unused anonymous volumes (all unused ones with -a)", "filter: label=, label!=",
		func(all bool) string {
			if all {
				return "all local volumes not used by at least one container"
			}
			return "all anonymous local volumes not used by at least one container"
		},
		func(e *engine.Engine, f engine.Filters, all bool) (prunedList, error) {
			if all {
				f["all"] = []string{"true"}
			}
			rep, err := e.VolumesPrune(f)
			return prunedList{"Deleted Volumes:", rep.VolumesDeleted, nil}, err
		}, true)
	update := &cobra.Command{
		Use:   "update [OPTIONS] [VOLUME]",
		Short: "Update a volume (cluster volumes only)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(*cobra.Command, []string) error {
			return errors.New("volume update is for cluster volumes; berth's are local volumes, which have nothing to update")
		},
	}
	update.Flags().String("availability", "active", "cluster volume availability (active, pause, drain)")
	v.AddCommand(create, ls, inspect, rm, prune, update)
	return v
}
