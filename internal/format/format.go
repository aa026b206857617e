// Package format renders command output the way Docker's CLI does:
// tables aligned with tabs, and --format Go templates with Docker's
// helper functions (json, upper, lower, join, split, title, truncate,
// pad). A "table " template prints a header row first.
package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"text/template"
	"unicode"

	"github.com/docker/go-units"
)

// Funcs are the template functions Docker offers.
var Funcs = template.FuncMap{
	"json": func(v any) (string, error) {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return "", err
		}
		return strings.TrimSpace(b.String()), nil
	},
	"upper": strings.ToUpper,
	"lower": strings.ToLower,
	"title": func(s string) string {
		r := []rune(s)
		if len(r) > 0 {
			r[0] = unicode.ToUpper(r[0])
		}
		return string(r)
	},
	"join":  strings.Join,
	"split": strings.Split,
	"truncate": func(s string, n int) string {
		if r := []rune(s); len(r) > n {
			return string(r[:n])
		}
		return s
	},
	"pad": func(s string, before, after int) string {
		return strings.Repeat(" ", before) + s + strings.Repeat(" ", after)
	},
	"println": fmt.Sprintln,
}

// Parse compiles a --format template.
func Parse(text string) (*template.Template, error) {
	t, err := template.New("format").Funcs(Funcs).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %w", err)
	}
	return t, nil
}

// Printer writes rows through a template, aligned when it is a table.
type Printer struct {
	w      io.Writer
	tw     *tabwriter.Writer
	t      *template.Template
	header string
	table  bool
	wrote  bool
}

var fieldRE = regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`)

// NewPrinter prints rows with text, a template; "table ..." prints a
// header first (each {{.Field}} named by headers, or upper-cased), a
// bare "table" or "" uses def (itself a table template), and "json" is
// each row as one line of JSON.
func NewPrinter(w io.Writer, text, def string, headers map[string]string) (*Printer, error) {
	if text == "" || text == "table" {
		text = def
	}
	if text == "json" { // Docker's: one JSON object per row
		text = "{{json .}}"
	}
	p := &Printer{w: w}
	if rest, ok := strings.CutPrefix(text, "table"); ok {
		p.table = true
		text = strings.TrimLeft(rest, " ")
		p.header = fieldRE.ReplaceAllStringFunc(text, func(m string) string {
			f := fieldRE.FindStringSubmatch(m)[1]
			if h, ok := headers[f]; ok {
				return h
			}
			return strings.ToUpper(f)
		})
		p.tw = tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
	}
	text = strings.ReplaceAll(text, `\t`, "\t")
	p.header = strings.ReplaceAll(p.header, `\t`, "\t")
	t, err := Parse(text)
	if err != nil {
		return nil, err
	}
	p.t = t
	return p, nil
}

// Row prints one row.
func (p *Printer) Row(v any) error {
	out := p.w
	if p.table {
		out = p.tw
		if !p.wrote {
			_, _ = fmt.Fprintln(out, p.header) // the Row after it reports a broken output
		}
	}
	p.wrote = true
	var b bytes.Buffer
	if err := p.t.Execute(&b, v); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	b.WriteByte('\n')
	_, err := out.Write(b.Bytes())
	return err
}

// Flush ends the output; a table with no rows still prints its header.
func (p *Printer) Flush() error {
	if p.table {
		if !p.wrote {
			_, _ = fmt.Fprintln(p.tw, p.header) // Flush reports a broken output
		}
		return p.tw.Flush()
	}
	return nil
}

// BinarySize prints bytes in powers of 1024, as docker info's Total
// Memory: "23.43GiB".
func BinarySize(n int64) string { return units.BytesSize(float64(n)) }

// Size prints bytes as Docker does: "1.23MB", powers of 1000.
func Size(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	f := float64(n)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%dB", n)
	}
	return fmt.Sprintf("%.3g%s", f, units[i])
}
