package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/engine"
)

// Names the shell completes for a verb's arguments, by the verb's path
// under berth: what it acts on.
var completes = map[string]string{
	"attach": "container", "commit": "container", "cp": "container", "diff": "container", "exec": "container",
	"export": "container", "kill": "container", "logs": "container", "pause": "container", "port": "container",
	"rename": "container", "restart": "container", "rm": "container", "start": "container", "stats": "container",
	"stop": "container", "top": "container", "unpause": "container", "update": "container", "wait": "container",
	"inspect": "container",
	"rmi":     "image", "tag": "image", "push": "image", "history": "image", "save": "image", "run": "image", "create": "image",
	"image rm": "image", "image inspect": "image", "image history": "image", "image tag": "image", "image push": "image",
	"image save": "image",
	"network rm": "network", "network inspect": "network", "network connect": "network", "network disconnect": "network",
	"volume rm": "volume", "volume inspect": "volume",
}

// addCompletions gives the verbs of completes their names to complete:
// containers, images, networks or volumes of the engine, as Docker's
// completion offers them.
func addCompletions(root *cobra.Command, g *globals) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		path := strings.TrimPrefix(strings.TrimPrefix(c.CommandPath(), root.Name()), " ")
		path = strings.TrimPrefix(path, "container ")
		if kind, ok := completes[path]; ok && c.ValidArgsFunction == nil {
			c.ValidArgsFunction = func(_ *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
				// run and create take an image first, a command after it.
				if (path == "run" || path == "create") && len(args) > 0 {
					return nil, cobra.ShellCompDirectiveDefault
				}
				return completeNames(g, kind, prefix), cobra.ShellCompDirectiveNoFileComp
			}
		}
	}
	walk(root)
}

// completeNames are the names of kind that begin with prefix; none when
// the engine cannot be read (completion says nothing then).
func completeNames(g *globals, kind, prefix string) []string {
	e, err := g.engine()
	if err != nil {
		return nil
	}
	var names []string
	switch kind {
	case "container":
		cs, _ := e.ContainerList(engine.ListOptions{All: true}) // unreadable: nothing to offer
		for _, c := range cs {
			for _, n := range c.Names {
				names = append(names, strings.TrimPrefix(n, "/"))
			}
		}
	case "image":
		imgs, _ := e.ImageList(engine.ImageListOptions{}) // as above
		for _, img := range imgs {
			names = append(names, img.RepoTags...)
		}
	case "network":
		nets, _ := e.NetworkList(nil) // as above
		for _, n := range nets {
			names = append(names, n.Name)
		}
	case "volume":
		vols, _ := e.VolumeList(nil) // as above
		for _, v := range vols {
			names = append(names, v.Name)
		}
	}
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}
