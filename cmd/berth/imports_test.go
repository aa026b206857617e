package main

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestCLIImportsOnlyTheEngine keeps the CLI thin: of berth's own
// packages it may use the engine, the output formatter, and `berth ns`
// (a tool of its own), never what lies below the engine.
func TestCLIImportsOnlyTheEngine(t *testing.T) {
	allowed := map[string]bool{
		"github.com/berth-project/berth/internal/engine": true,
		"github.com/berth-project/berth/internal/format": true,
		"github.com/berth-project/berth/internal/nstool": true,
		"github.com/berth-project/berth/internal/build":  true, // itself a front end over the engine
		"github.com/berth-project/berth/internal/api":    true, // the Engine API server, a front end over the engine
		// The docker CLI's contexts: client configuration, no engine.
		"github.com/berth-project/berth/internal/clicontext": true,
	}
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sources: %v", err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		ast, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, "github.com/berth-project/berth/") && !allowed[p] {
				t.Errorf("%s imports %s: the CLI reaches the engine only", f, p)
			}
		}
	}
}
