package main

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// configFormat is a list's default --format from Docker's config file
// ($DOCKER_CONFIG/config.json, else ~/.docker/config.json): psFormat,
// imagesFormat or statsFormat, as the docker CLI honours them; "" when
// there is none (a missing or unreadable file is no error: the table is
// the default).
func configFormat(key string) string {
	dir := os.Getenv("DOCKER_CONFIG")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".docker")
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return ""
	}
	var cfg map[string]any
	if json.Unmarshal(b, &cfg) != nil {
		return ""
	}
	s, _ := cfg[key].(string)
	return s
}
