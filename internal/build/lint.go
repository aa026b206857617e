package build

import (
	"fmt"
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
			switch c := c.(type) {
			case *instructions.ShellCommand:
				shell = true
			case *instructions.CmdCommand:
				if c.PrependShell && !shell {
					lint.Run(&linter.RuleJSONArgsRecommended, c.Location(), linter.RuleJSONArgsRecommended.Format(c.Name()))
				}
			case *instructions.EntrypointCommand:
				if c.PrependShell && !shell {
					lint.Run(&linter.RuleJSONArgsRecommended, c.Location(), linter.RuleJSONArgsRecommended.Format(c.Name()))
				}
			case *instructions.EnvCommand:
				for _, kv := range c.Env {
					if kv.NoDelim {
						lint.Run(&linter.RuleLegacyKeyValueFormat, c.Location(), linter.RuleLegacyKeyValueFormat.Format(c.Name()))
						break
					}
				}
			case *instructions.LabelCommand:
				for _, kv := range c.Labels {
					if kv.NoDelim {
						lint.Run(&linter.RuleLegacyKeyValueFormat, c.Location(), linter.RuleLegacyKeyValueFormat.Format(c.Name()))
						break
					}
				}
			}
		}
	}
}
