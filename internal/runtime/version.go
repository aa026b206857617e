package runtime

import "github.com/berth-project/berth/internal/caps"

// Version is berth's version; the build may override it with -ldflags.
var Version = "0.1.0-dev"

func capsKnown() []string { return caps.Known() }

// SpecVersion is the runtime-spec version berth implements.
func SpecVersion() string { return specsVersion }
