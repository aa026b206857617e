package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	mobyimage "github.com/moby/moby/api/types/image"
	"golang.org/x/term"

	"github.com/berth-project/berth/internal/format"
)

// images --tree: each image with its platform variants below it, laid
// out as the docker CLI 28.2 lays out its (experimental) tree, so that
// the two read the same over one engine. Its colours are a terminal's
// only.

// treeStyle colours one kind of cell; plain is the identity.
type treeStyle func(string) string

func plain(s string) string { return s }

type treeStyles struct {
	color                                                      bool
	warning, header, name, cell, inUse, legendIcon, legendText treeStyle
}

func ansi(codes string) treeStyle {
	return func(s string) string { return codes + s + "\x1b[0m" }
}

var (
	plainTree = treeStyles{false, plain, plain, plain, plain, plain, plain, plain}
	colorTree = treeStyles{
		color:   true,
		warning: ansi("\x1b[93m"), header: ansi("\x1b[39m\x1b[1m"), name: ansi("\x1b[34m\x1b[1m"),
		cell: ansi("\x1b[39m"), inUse: ansi("\x1b[38;5;0m\x1b[48;5;14m"),
		legendIcon: ansi("\x1b[1m\x1b[106m\x1b[30m"), legendText: ansi("\x1b[96m"),
	}
)

// treeRow is one line of the tree: an image or one of its manifests.
type treeRow struct {
	name, id, disk, content string
	inUse, isImage          bool
}

// printImageTree writes imgs as a tree; untagged images only with all.
func printImageTree(w io.Writer, imgs []mobyimage.Summary, all bool) {
	width, st := 80, plainTree
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		st = colorTree
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			width = cols
		}
	}
	fmt.Fprintln(w, st.warning("WARNING: This is an experimental feature. The output may change and shouldn't be depended on."))
	if st.color {
		fmt.Fprintln(w, strings.Repeat(" ", max(0, width-21))+st.legendIcon("i")+" "+st.legendText("Info → ")+" "+st.inUse(" U ")+" In Use ")
	} else {
		fmt.Fprintln(w, strings.Repeat(" ", max(0, width-18))+"Info ->  U In Use ")
	}
	fmt.Fprintln(w)
	type group struct {
		extraNames []string
		rows       []treeRow
	}
	var groups []group
	nameWidth := len("IMAGE")
	for _, img := range imgs {
		if len(img.RepoTags) == 0 && !all {
			continue
		}
		g := group{}
		top := treeRow{name: "<untagged>", id: shortID(img.ID), disk: format.Size(img.Size), isImage: true, inUse: img.Containers > 0}
		if len(img.RepoTags) > 0 {
			top.name, g.extraNames = img.RepoTags[0], img.RepoTags[1:]
		}
		var content int64
		var children []treeRow
		for i, m := range img.Manifests {
			if m.Kind != mobyimage.ManifestKindImage || m.ImageData == nil {
				continue
			}
			branch := "├─ "
			if i == len(img.Manifests)-1 {
				branch = "└─ "
			}
			p := m.ImageData.Platform
			label := p.OS + "/" + p.Architecture
			if p.Variant != "" {
				label += "/" + p.Variant
			}
			used := len(m.ImageData.Containers) > 0
			top.inUse = top.inUse || used
			content += m.Size.Content
			children = append(children, treeRow{name: branch + label, id: shortID(m.ID), disk: format.Size(m.Size.Total), content: format.Size(m.Size.Content), inUse: used})
		}
		top.content = format.Size(content)
		g.rows = append([]treeRow{top}, children...)
		// Widths are measured in bytes and padded in runes, as the
		// docker CLI does: its tree glyphs widen the column.
		for _, n := range g.extraNames {
			nameWidth = max(nameWidth, len(n))
		}
		for _, r := range g.rows {
			nameWidth = max(nameWidth, len(r.name))
		}
		groups = append(groups, g)
	}
	// The other columns take 51 of the line; a name longer than what is
	// left is cut.
	nameWidth = min(nameWidth, max(len("IMAGE"), width-51))
	spaces := func(n int) string { return strings.Repeat(" ", max(0, n)) }
	fmt.Fprintln(w, st.header("IMAGE")+spaces(nameWidth+3-len("IMAGE"))+
		st.header("ID")+spaces(13)+st.header("DISK USAGE")+"   "+st.header("CONTENT SIZE")+"   "+st.header("EXTRA"))
	for _, g := range groups {
		for _, n := range g.extraNames {
			fmt.Fprintln(w, st.name(n))
		}
		for _, r := range g.rows {
			name := r.name
			if utf8.RuneCountInString(name) > nameWidth {
				name = string([]rune(name)[:nameWidth-1]) + "…"
			}
			styled := st.cell(name)
			if r.isImage {
				styled = st.name(name)
			}
			extra := "     "
			if r.inUse && st.color {
				extra = st.inUse(" U ") + "  "
			} else if r.inUse {
				extra = "U    "
			}
			fmt.Fprintln(w, styled+spaces(nameWidth+3-utf8.RuneCountInString(name))+
				st.cell(r.id)+"   "+spaces(10-len(r.disk))+st.cell(r.disk)+"   "+spaces(12-len(r.content))+st.cell(r.content)+"   "+extra)
		}
		fmt.Fprintln(w)
	}
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
