// Package examples holds Zoom's published example payload of each event the
// ingester models, one file per event name: the one copy that the events
// tests, the simulator and the benchmarks share.
package examples

import (
	"embed"
	"path"
	"slices"
	"strings"
)

//go:embed events/*.json
var files embed.FS

// All returns every example event's JSON by event name. The map is new on
// every call: callers may keep or change it.
func All() map[string][]byte {
	entries, _ := files.ReadDir("events")
	m := make(map[string][]byte, len(entries))
	for _, e := range entries {
		b, _ := files.ReadFile(path.Join("events", e.Name()))
		m[strings.TrimSuffix(e.Name(), ".json")] = b
	}
	return m
}

// Names returns the example events' names, sorted.
func Names() []string {
	var names []string
	for n := range All() {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Get returns the example of the named event, or nil.
func Get(name string) []byte { return All()[name] }
