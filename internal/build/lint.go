package build

import (
	"fmt"
	"slices"
	"sync"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// newLinter is BuildKit's Dockerfile linter as the file's # check=
// directive sets it (skip=RULE,...|all; error=true), with its warnings
// shown as [WARNING] lines naming the rule and the line.
func newLinter(dt []byte, p *progress) (*linter.Linter, error) {
	cfg := &linter.Config{}
	if check, _, _, ok := parser.ParseDirective("check", dt); ok {
		c, err := linter.ParseLintOptions(check)
		if err != nil {
			return nil, fmt.Errorf("# check=%s: %w", check, err)
		}
		cfg = c
	}
	var mu sync.Mutex // the rules' callbacks come from one goroutine; the list is shared
	cfg.Warn = func(rule, _, _, msg string, loc []parser.Range) {
		mu.Lock()
		defer mu.Unlock()
		p.warn(fmt.Sprintf("%s: %s (line %d)", rule, msg, lineOf(loc)))
	}
	return linter.New(cfg), nil
}

// lintStages runs the rules BuildKit checks while it converts the
// stages, which instructions.Parse does not: shell-form CMD and
// ENTRYPOINT without a SHELL, and ENV or LABEL in the legacy "k v"
// form. BuildKit also sees a base image's SHELL; the stage's own are
// what is known before the bases are pulled.
func lintStages(lint *linter.Linter, stages []instructions.Stage) {
	for _, s := range stages {
		shell := false
		for _, c := range s.Commands {
			var shellForm bool
			var pairs []instructions.KeyValuePair
			switch c := c.(type) {
			case *instructions.ShellCommand:
				shell = true
			case *instructions.CmdCommand:
				shellForm = c.PrependShell
			case *instructions.EntrypointCommand:
				shellForm = c.PrependShell
			case *instructions.EnvCommand:
				pairs = c.Env
			case *instructions.LabelCommand:
				pairs = c.Labels
			}
			if shellForm && !shell {
				lint.Run(&linter.RuleJSONArgsRecommended, c.Location(), linter.RuleJSONArgsRecommended.Format(c.Name()))
			}
			if slices.ContainsFunc(pairs, func(kv instructions.KeyValuePair) bool { return kv.NoDelim }) {
				lint.Run(&linter.RuleLegacyKeyValueFormat, c.Location(), linter.RuleLegacyKeyValueFormat.Format(c.Name()))
			}
		}
	}
}
