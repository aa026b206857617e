package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func mountCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "mount IMAGE",
		Short: "Mount an image's root filesystem read-only and print where",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			svc, img, err := g.image(args[0])
			if err != nil {
				return err
			}
			dir, err := svc.Mount(img)
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
			svc, img, err := g.image(args[0])
			if err != nil {
				return err
			}
			return svc.Unmount(img)
		},
	}
}
