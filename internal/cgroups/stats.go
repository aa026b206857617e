package cgroups

import "github.com/berth-project/berth/internal/cgroups/fscommon"

// Stats is a container's resource usage, in the JSON shape of runc's
// `events --stats`.
type Stats = fscommon.Stats
