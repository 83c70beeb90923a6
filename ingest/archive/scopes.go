package archive

import "strings"

// Scopes lists the scopes any one of which lets an app list and download
// archived files: the classic name, and the granular names of the
// account-level and master-account endpoints.
var Scopes = []string{
	"recording:read:admin",
	"archiving:read:list_archived_files:admin",
	"recording:master",
	"archiving:read:list_archived_files:master",
}

// MissingScope reports whether none of the granted scopes allows the poller.
func MissingScope(granted []string) bool {
	for _, g := range granted {
		for _, s := range Scopes {
			if strings.TrimSpace(g) == s {
				return false
			}
		}
	}
	return true
}
