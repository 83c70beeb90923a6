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

// OptionalNeeds lists what the events only some integrations subscribe to
// need: recordings, and the real-time media streams a media adapter takes.
// check reports them without failing. Conferences, supervision, channel
// upgrades, dispositions, notes, surveys and engagement_ended come with the
// engagement scopes; task_entered_queue and task_exited_queue with the task
// scopes.
var OptionalNeeds = []ScopeNeed{
	{"recordings (contact_center.recording_*)", []string{"contact_center_recording:read:admin", "contact_center_recording:write:admin", "contact_center:read:recording:admin"}},
	{"real-time media streams (contact_center.voice_rtms_*)", []string{"rtms:read:admin", "contact_center:read:rtms:admin", "rtms:read:rtms_started:admin"}},
}

// MissingOptional returns the optional needs that none of the granted
// scopes meets.
func MissingOptional(granted []string) []ScopeNeed { return missing(OptionalNeeds, granted) }

// Missing returns the needs that none of the granted scopes meets.
func Missing(granted []string) []ScopeNeed { return missing(Needs, granted) }

func missing(needs []ScopeNeed, granted []string) []ScopeNeed {
	have := map[string]bool{}
	for _, s := range granted {
		have[strings.TrimSpace(s)] = true
	}
	var out []ScopeNeed
	for _, n := range needs {
		met := false
		for _, s := range n.Scopes {
			met = met || have[s]
		}
		if !met {
			out = append(out, n)
		}
	}
	return out
}
