package main

import "path"

// pathMatch matches Docker's reference filter patterns.
func pathMatch(pattern, s string) (bool, error) { return path.Match(pattern, s) }
