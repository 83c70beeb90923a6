package zoomrest

import "strings"

// A Scope is what one REST call this package makes needs: either the
// granular scope or the classic one.
type Scope struct {
	Endpoint string // E1 … E7, as ../shared/zoom-rest.md numbers them
	Method   string // this package's method
	Path     string
	Granular string
	Classic  string
}

// Scopes lists the scopes of the calls this package makes (zoom-rest.md §1).
var Scopes = []Scope{
	{"E1", "Engagements", "GET /contact_center/engagements", "contact_center:read:list_engagements:admin", "contact_center_report:read:admin"},
	{"E2", "Engagement", "GET /contact_center/engagements/{engagementId}", "contact_center:read:engagement:admin", "contact_center_report:read:admin"},
	{"E4", "RecordingStatus", "GET /contact_center/engagements/{engagementId}/recordings/status", "contact_center:read:engagement_recording_status:admin", "contact_center_engagement:read:admin"},
	{"E5", "Recordings", "GET /contact_center/recordings", "contact_center:read:list_recordings:admin", "contact_center_recording:read:admin"},
	{"E6", "StatusHistory", "GET /contact_center/analytics/agents/status_history", "contact_center:read:agent_status_report:admin", "contact_center_report:read:admin"},
	{"E7", "Users", "GET /contact_center/users", "contact_center:read:list_users:admin", "contact_center_user:read:admin"},
}

// MissingScopes returns the calls none of whose scopes was granted.
func MissingScopes(granted []string) []Scope {
	have := map[string]bool{}
	for _, g := range granted {
		have[strings.TrimSpace(g)] = true
	}
	var missing []Scope
	for _, s := range Scopes {
		if !have[s.Granular] && !have[s.Classic] {
			missing = append(missing, s)
		}
	}
	return missing
}
