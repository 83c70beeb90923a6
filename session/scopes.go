package session

import "strings"

// A ScopeNeed is what one family of events needs: any one of Scopes, the
// classic and the granular names Zoom's event documentation gives.
type ScopeNeed struct {
	Events string
	Scopes []string
}

// Needs lists the scopes the event subscription's events need.
var Needs = []ScopeNeed{
	{"user activity (user.signed_in, signed_out, presence_status_updated)", []string{"user:read:admin", "user:read:user:admin", "user:read:presence_status:admin"}},
	{"tasks and reservations (contact_center.task_*)", []string{"contact_center_task:read:admin", "contact_center_task:write:admin", "contact_center:read:task:admin"}},
	{"Contact Center users (contact_center.user_*)", []string{"contact_center_user:read:admin", "contact_center_user:write:admin", "contact_center:read:user:admin"}},
	{"engagements and transfers (contact_center.engagement_*)", []string{"contact_center_engagement:read:admin", "contact_center_engagement:write:admin", "contact_center:read:engagement:admin"}},
}

// Missing returns the needs that none of the granted scopes meets.
func Missing(granted []string) []ScopeNeed {
	have := map[string]bool{}
	for _, s := range granted {
		have[strings.TrimSpace(s)] = true
	}
	var missing []ScopeNeed
	for _, n := range Needs {
		met := false
		for _, s := range n.Scopes {
			met = met || have[s]
		}
		if !met {
			missing = append(missing, n)
		}
	}
	return missing
}
