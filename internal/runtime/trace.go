package runtime

import phasetrace "github.com/berth-project/berth/internal/trace"

func trace(phase string) { phasetrace.Phase("runtime", phase) }
