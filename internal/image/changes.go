package image

import (
	"encoding/json"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ApplyChanges applies Dockerfile instructions given with --change
// (import, commit) to an image config: CMD, ENTRYPOINT, ENV, EXPOSE,
// LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL.
func ApplyChanges(c *v1.Config, changes []string) error {
	for _, ch := range changes {
		instr, args, _ := strings.Cut(strings.TrimSpace(ch), " ")
		args = strings.TrimSpace(args)
		if args == "" {
			return fmt.Errorf("change %q: %s needs an argument", ch, instr)
		}
		switch strings.ToUpper(instr) {
		case "CMD":
			c.Cmd = execForm(args)
		case "ENTRYPOINT":
			c.Entrypoint = execForm(args)
		case "ENV":
			kvs, err := keyValues(args)
			if err != nil {
				return fmt.Errorf("change %q: %w", ch, err)
			}
			for _, kv := range kvs {
				c.Env = setEnv(c.Env, kv[0], kv[1])
			}
		case "LABEL":
			kvs, err := keyValues(args)
			if err != nil {
				return fmt.Errorf("change %q: %w", ch, err)
			}
			if c.Labels == nil {
				c.Labels = map[string]string{}
			}
			for _, kv := range kvs {
				c.Labels[kv[0]] = kv[1]
			}
		case "EXPOSE":
			if c.ExposedPorts == nil {
				c.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range strings.Fields(args) {
				if !strings.Contains(p, "/") {
					p += "/tcp"
				}
				c.ExposedPorts[p] = struct{}{}
			}
		case "VOLUME":
			if c.Volumes == nil {
				c.Volumes = map[string]struct{}{}
			}
			var vols []string
			if json.Unmarshal([]byte(args), &vols) != nil {
				vols = strings.Fields(args)
			}
			for _, v := range vols {
				c.Volumes[v] = struct{}{}
			}
		case "USER":
			c.User = args
		case "WORKDIR":
			c.WorkingDir = args
		case "STOPSIGNAL":
			c.StopSignal = args
		default:
			return fmt.Errorf("change %q: %s is not one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL", ch, instr)
		}
	}
	return nil
}

// execForm reads a JSON array, or else wraps a shell command as Docker's
// shell form does.
func execForm(args string) []string {
	var argv []string
	if strings.HasPrefix(args, "[") && json.Unmarshal([]byte(args), &argv) == nil {
		return argv
	}
	return []string{"/bin/sh", "-c", args}
}

// keyValues reads "k=v k2=v2" (values may be double-quoted) or the old
// "k v" form.
func keyValues(args string) ([][2]string, error) {
	if !strings.Contains(strings.Fields(args)[0], "=") {
		k, v, _ := strings.Cut(args, " ")
		return [][2]string{{k, strings.TrimSpace(v)}}, nil
	}
	var out [][2]string
	for rest := args; rest != ""; rest = strings.TrimLeft(rest, " \t") {
		k, after, ok := strings.Cut(rest, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("%q is not key=value", rest)
		}
		var v string
		if strings.HasPrefix(after, `"`) {
			end := strings.Index(after[1:], `"`)
			if end < 0 {
				return nil, fmt.Errorf("unterminated quote in %q", rest)
			}
			v, rest = after[1:end+1], after[end+2:]
		} else {
			v, rest, _ = strings.Cut(after, " ")
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if strings.HasPrefix(e, k+"=") {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}
