package runtime

import phasetrace "github.com/berth-project/berth/internal/trace"

func trace(phase string) { phasetrace.Phase("runtime", phase) }

// traceEnv passes BERTH_TRACE on to a child (the init stage).
func traceEnv(env []string) []string { return phasetrace.Env(env) }
