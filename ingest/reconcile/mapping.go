package reconcile

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/zccingest/zccingest/events"
)

// Event names the reconciler rebuilds.
const (
	evStarted         = "contact_center.engagement_started"
	evAnswered        = "contact_center.engagement_user_answered"
	evHold            = "contact_center.engagement_user_hold"
	evUnhold          = "contact_center.engagement_user_unhold"
	evTransferDone    = "contact_center.engagement_transfer_completed"
	evConfJoined      = "contact_center.engagement_conference_participant_joined"
	evConfLeft        = "contact_center.engagement_conference_participant_left"
	evMonitorStarted  = "contact_center.engagement_monitor_started"
	evMonitorEnded    = "contact_center.engagement_monitor_ended"
	evWrapUpStarted   = "contact_center.engagement_wrap_up_started"
	evWrapUpEnded     = "contact_center.engagement_wrap_up_ended"
	evEnded           = "contact_center.engagement_ended"
	evNoteAdded       = "contact_center.engagement_note_added"
	evRecStarted      = "contact_center.recording_started"
	evRecPaused       = "contact_center.recording_paused"
	evRecResumed      = "contact_center.recording_resumed"
	evRecStopped      = "contact_center.recording_stopped"
	evStatusChanged   = "contact_center.user_status_changed"
	evLogin           = "contact_center.user_login"
	evLogout          = "contact_center.user_logout"
	statusOffline     = "Offline"
	maxEventTypeBytes = 64 // an unknown timeline event_type is named in the summary, bounded
)

// Unrecoverable reports whether Zoom's REST API cannot give back events
// of the named kind (a NotRecoverable entry, where a trailing '*' stands
// for any rest of the name), and why.
func Unrecoverable(name string) (why string, ok bool) {
	if why, ok := NotRecoverable[name]; ok {
		return why, true
	}
	for k, why := range NotRecoverable {
		if prefix, wild := strings.CutSuffix(k, "*"); wild && strings.HasPrefix(name, prefix) {
			return why, true
		}
	}
	return "", false
}

// NotRecoverable names each event kind Zoom's REST API cannot give back,
// with why: every gap's summary carries it.
var NotRecoverable = map[string]string{
	"contact_center.task_*":                                     "the Tasks API reached its end of life on 2024-08-30, with no replacement",
	"contact_center.task_reservation_*":                         "the Tasks API reached its end of life on 2024-08-30; E2's Agent Offer is not enough to rebuild a reservation",
	"contact_center.engagement_user_muted":                      "no REST endpoint records mute",
	"contact_center.engagement_user_unmuted":                    "no REST endpoint records unmute",
	"contact_center.engagement_user_dtmf_sent":                  "no REST endpoint records DTMF",
	"contact_center.engagement_transfer_initiated":              "intermediate transfer state: E2 gives the outcome only (rebuilt as transfer_completed)",
	"contact_center.engagement_transfer_queued":                 "intermediate transfer state: E2 gives the outcome only",
	"contact_center.engagement_transfer_reserved":               "intermediate transfer state: E2 gives the outcome only",
	"contact_center.engagement_transfer_accepted":               "intermediate transfer state: E2 gives the outcome only",
	"contact_center.engagement_transfer_rejected":               "intermediate transfer state: E2 gives the outcome only",
	"contact_center.engagement_transfer_canceled":               "intermediate transfer state: E2 gives the outcome only",
	"contact_center.engagement_transfer_timeout":                "intermediate transfer state: E2 gives the outcome only",
	"contact_center.engagement_conference_participant_invited":  "E2 gives the participants who joined, not the invitations",
	"contact_center.engagement_conference_participant_rejected": "E2 gives the participants who joined only",
	"contact_center.engagement_conference_participant_timeout":  "E2 gives the participants who joined only",
	"contact_center.engagement_conference_participant_canceled": "E2 gives the participants who joined only",
	"contact_center.engagement_conference_canceled":             "E2 gives the participants who joined only",
	"contact_center.engagement_consumer_notified":               "no entry in E2's timeline",
	"contact_center.engagement_consumer_answered":               "no entry in E2's timeline",
	"contact_center.engagement_user_ended":                      "no entry in E2's timeline (engagement_ended is rebuilt)",
	"contact_center.engagement_consumer_ended":                  "no entry in E2's timeline (engagement_ended is rebuilt)",
	"contact_center.engagement_disposition_added":               "E1 gives the disposition without the time it was added",
	"contact_center.engagement_takeover_started":                "E2's timeline vocabulary has no takeover entry",
	"contact_center.engagement_upgrade_*":                       "E2 gives upgraded_to_channel_type only, not the upgrade's steps",
	"contact_center.engagement_survey_status":                   "no REST source for the survey's status changes",
	"contact_center.cx_engagement_end_data_ready":               "no REST source",
	"contact_center.recording_completed":                        "E5 gives the recording, not when it was ready",
	"contact_center.recording_transcript_completed":             "E5 gives the transcript URL, not when it was ready",
	"contact_center.recording_deleted":                          "no REST source for deletions",
	"contact_center.recording_permanently_deleted":              "no REST source for deletions",
	"contact_center.voice_rtms_*":                               "real-time media streams are live only",
	"user.*":                                                    "Zoom user events: E10 sign-in reports by email are not used",
}

// A rebuiltEvent is one event rebuilt from REST data, before it is encoded.
type rebuiltEvent struct {
	Name string
	TS   int64 // event_ts, ms
	// EngagementID and UserID are what the event is about: the live check
	// matches on the engagement's id, or the user's for agent events.
	EngagementID, UserID string
	// Disc tells apart two events of one engagement, name and time (the
	// conference invitee); it goes into the key.
	Disc   string
	Object any
}

// matchID is the id a live event of the same kind is found by.
func (r *rebuiltEvent) matchID() string { return cmp.Or(r.EngagementID, r.UserID) }

// key is the rebuilt event's de-duplication key.
func (r *rebuiltEvent) key(account string) string {
	return events.RebuiltKey(account, r.Name, r.TS, r.EngagementID, r.UserID, r.Disc)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func milli(t time.Time) events.MilliTime { return events.MilliTime{Time: t.UTC()} }

// engagementBase is the object every engagement event starts from: the
// ids and the first channel, flow, queue and consumer.
func engagementBase(e *Engagement) events.Engagement {
	o := events.Engagement{EngagementID: e.EngagementID, EngagementDirection: e.Direction}
	if len(e.Channels) > 0 {
		o.Channel, o.ChannelSource = e.Channels[0].Channel, e.Channels[0].ChannelSource
	}
	if len(e.Flows) > 0 {
		o.FlowID, o.FlowName = e.Flows[0].FlowID, e.Flows[0].FlowName
	}
	if len(e.Queues) > 0 {
		o.QueueID, o.QueueName = cmp.Or(e.Queues[0].CCQueueID, e.Queues[0].QueueID), e.Queues[0].QueueName
	}
	if len(e.Consumers) > 0 {
		c := e.Consumers[0]
		o.ConsumerID, o.ConsumerDisplayName, o.ConsumerNumber = c.ConsumerID, c.ConsumerDisplayName, c.ConsumerNumber
	}
	return o
}

// mapEngagement rebuilds an engagement's events from its E2 detail and its
// E4 recording statuses (rs may be nil), sorted by time. unknown counts
// timeline entries of an event_type outside the vocabulary, by type.
func mapEngagement(d *EngagementDetail, rs *RecordingStatus) (out []rebuiltEvent, unknown map[string]int) {
	e := &d.Engagement
	base := engagementBase(e)
	names := map[string]string{}
	for _, a := range e.Agents {
		names[a.UserID] = a.DisplayName
	}
	add := func(name string, t time.Time, userID, disc string, obj any) {
		out = append(out, rebuiltEvent{Name: name, TS: ms(t), EngagementID: e.EngagementID, UserID: userID, Disc: disc, Object: obj})
	}
	eng := func(te *TimelineEvent, t time.Time) events.Engagement {
		o := base
		o.Channel = cmp.Or(te.Channel, o.Channel)
		o.ChannelSource = cmp.Or(te.ChannelSource, o.ChannelSource)
		o.EngagementDirection = cmp.Or(te.Direction, o.EngagementDirection)
		o.FlowID = cmp.Or(te.FlowID, o.FlowID)
		o.QueueID = cmp.Or(te.CCQueueID, te.QueueID, o.QueueID)
		o.ConsumerID = cmp.Or(te.ConsumerID, o.ConsumerID)
		o.UserID = te.UserID
		o.UserDisplayName = cmp.Or(te.UserDisplayName, names[te.UserID])
		o.DateTime = milli(t)
		return o
	}
	// E2 shows an engagement only once it has ended and been processed:
	// every hold, conference, monitoring and wrap-up in its timeline is
	// over, and ends at start + duration (whole seconds, maybe 0).
	sawStart, sawEnd := false, false
	timeline := slices.Clone(d.Events)
	slices.SortStableFunc(timeline, func(a, b TimelineEvent) int { return a.StartTime.Compare(b.StartTime) })
	for i := range timeline {
		te := &timeline[i]
		if te.StartTime.IsZero() {
			continue // no time, nothing to place in a gap
		}
		start, end := te.StartTime, te.StartTime.Add(time.Duration(te.Duration)*time.Second)
		switch te.EventType {
		case EventEngagementStart:
			sawStart = true
			o := eng(te, start)
			o.UserID, o.UserDisplayName = "", ""
			add(evStarted, start, "", "", o)
		case EventAgentAccept:
			add(evAnswered, start, te.UserID, "", eng(te, start))
		case EventHold:
			add(evHold, start, te.UserID, "", eng(te, start))
			add(evUnhold, end, te.UserID, "", eng(te, end))
		case EventTransfer:
			o := events.Transfer{
				TransferType: te.TransferType, EngagementID: e.EngagementID,
				EngagementDirection: cmp.Or(te.Direction, base.EngagementDirection), Channel: cmp.Or(te.Channel, base.Channel),
				FlowID: cmp.Or(te.FlowID, base.FlowID), QueueID: cmp.Or(te.CCQueueID, te.QueueID, base.QueueID),
				UserID: te.UserID, UserDisplayName: cmp.Or(te.UserDisplayName, names[te.UserID]),
				TransferToUserID: te.TransferToUserID, TransferToUserDisplayName: names[te.TransferToUserID],
				TransferToQueueID: te.TransferToQueueID,
				ConsumerID:        base.ConsumerID, ConsumerDisplayName: base.ConsumerDisplayName, ConsumerNumber: base.ConsumerNumber,
				DateTime: milli(start),
			}
			switch {
			case te.TransferToUserID != "":
				o.TransferLevel = "user"
			case te.TransferToQueueID != "":
				o.TransferLevel = "queue"
			}
			add(evTransferDone, start, te.UserID, "", o)
		case EventConference:
			p := &events.ConferenceParticipant{DisplayName: te.Invitee}
			switch strings.ToLower(te.InviteeType) {
			case "agent":
				p = &events.ConferenceParticipant{UserID: te.Invitee, DisplayName: names[te.Invitee]}
			case "pstn number":
				p = &events.ConferenceParticipant{PhoneNumber: te.Invitee}
			}
			conf := func(t time.Time) events.Conference {
				return events.Conference{
					EngagementID: e.EngagementID, EngagementDirection: base.EngagementDirection, Channel: cmp.Or(te.Channel, base.Channel),
					FlowID: base.FlowID, FlowName: base.FlowName, DateTime: milli(t),
				}
			}
			joined := conf(start)
			joined.Joining = p
			add(evConfJoined, start, te.UserID, te.Invitee, joined)
			left := conf(end)
			left.Leaving = p
			add(evConfLeft, end, te.UserID, te.Invitee, left)
		case EventMonitor:
			sup := func(t time.Time) events.Supervision {
				return events.Supervision{
					EngagementID: e.EngagementID, EngagementDirection: base.EngagementDirection, Channel: cmp.Or(te.Channel, base.Channel),
					FlowID: base.FlowID, FlowName: base.FlowName, QueueID: base.QueueID, QueueName: base.QueueName,
					UserID: te.UserID, UserDisplayName: cmp.Or(te.UserDisplayName, names[te.UserID]),
					MonitoringUserID: te.SupervisorID, MonitoringUserDisplayName: te.SupervisorDisplayName,
					ConsumerID: base.ConsumerID, ConsumerNumber: base.ConsumerNumber, ConsumerDisplayName: base.ConsumerDisplayName,
					DateTime: milli(t),
				}
			}
			add(evMonitorStarted, start, te.UserID, te.SupervisorID, sup(start))
			add(evMonitorEnded, end, te.UserID, te.SupervisorID, sup(end))
		case EventWrapUp:
			add(evWrapUpStarted, start, te.UserID, "", eng(te, start))
			add(evWrapUpEnded, end, te.UserID, "", eng(te, end))
		case EventEngagementEnd:
			sawEnd = true
			o := eng(te, start)
			o.UserID, o.UserDisplayName = "", ""
			add(evEnded, start, "", "", o)
		case EventAgentOffer:
			// A task reservation: not rebuilt (NotRecoverable).
		default:
			if unknown == nil {
				unknown = map[string]int{}
			}
			unknown[boundedType(te.EventType)]++
		}
	}
	// E1's own times stand in for a timeline without start or end.
	if !sawStart && !e.StartTime.IsZero() {
		o := base
		o.DateTime = milli(e.StartTime)
		add(evStarted, e.StartTime, "", "", o)
	}
	if !sawEnd && !e.EndTime.IsZero() {
		o := base
		o.DateTime = milli(e.EndTime)
		add(evEnded, e.EndTime, "", "", o)
	}
	for _, n := range e.Notes {
		if n.LastModifiedTime.IsZero() {
			continue
		}
		add(evNoteAdded, n.LastModifiedTime, n.UserID, n.NoteID, events.Note{
			NoteID: n.NoteID, Text: n.Note, LastModifiedTime: n.LastModifiedTime.UTC().Truncate(time.Second),
			EngagementID: e.EngagementID, EngagementDirection: base.EngagementDirection,
			Channel: base.Channel, ChannelSource: base.ChannelSource, QueueID: base.QueueID, QueueName: base.QueueName,
			FlowID: base.FlowID, FlowName: base.FlowName, UserID: n.UserID, UserDisplayName: names[n.UserID],
			ConsumerID: base.ConsumerID, ConsumerDisplayName: base.ConsumerDisplayName, ConsumerNumber: base.ConsumerNumber,
			DateTime: milli(n.LastModifiedTime),
		})
	}
	if rs != nil {
		out = append(out, mapRecording(e, base, rs)...)
	}
	slices.SortStableFunc(out, func(a, b rebuiltEvent) int { return cmp.Compare(a.TS, b.TS) })
	return out, unknown
}

var recordingEvents = map[string]string{"start": evRecStarted, "pause": evRecPaused, "resume": evRecResumed, "stop": evRecStopped}

// mapRecording rebuilds the recording events of an engagement from E4.
func mapRecording(e *Engagement, base events.Engagement, rs *RecordingStatus) []rebuiltEvent {
	var users []events.EngagedUser
	for _, a := range e.Agents {
		users = append(users, events.EngagedUser{UserID: a.UserID, UserDisplayName: a.DisplayName})
	}
	var consumers []events.EngagedConsumer
	for _, c := range e.Consumers {
		consumers = append(consumers, events.EngagedConsumer{ConsumerID: c.ConsumerID, ConsumerNumber: c.ConsumerNumber, ConsumerDisplayName: c.ConsumerDisplayName})
	}
	var out []rebuiltEvent
	for _, s := range rs.Statuses {
		name, ok := recordingEvents[strings.ToLower(s.Status)]
		if !ok || s.LastModifiedTime.IsZero() {
			continue
		}
		out = append(out, rebuiltEvent{Name: name, TS: ms(s.LastModifiedTime), EngagementID: e.EngagementID, Object: events.Recording{
			EngagementID: e.EngagementID, EngagementDirection: base.EngagementDirection,
			Channel: cmp.Or(rs.Channel, base.Channel), FlowID: base.FlowID, FlowName: base.FlowName,
			QueueID: base.QueueID, QueueName: base.QueueName, Users: users, Consumers: consumers,
			DateTime: milli(s.LastModifiedTime),
		}})
	}
	return out
}

// mapAgentStatuses rebuilds user_status_changed from every E6 row (the row
// starts when the agent entered the status), user_logout from a row of
// status Offline and user_login from the first row after one. A user's
// first row in the window has no known previous status.
func mapAgentStatuses(rows []AgentStatus) []rebuiltEvent {
	rows = slices.Clone(rows)
	slices.SortStableFunc(rows, func(a, b AgentStatus) int {
		return cmp.Or(cmp.Compare(a.UserID, b.UserID), a.StartTime.Compare(b.StartTime))
	})
	var out []rebuiltEvent
	for i := range rows {
		r := &rows[i]
		if r.UserID == "" || r.StartTime.IsZero() {
			continue
		}
		var prev *AgentStatus
		if i > 0 && rows[i-1].UserID == r.UserID {
			prev = &rows[i-1]
			if prev.StartTime.Equal(r.StartTime) && prev.StatusID == r.StatusID && prev.SubStatusID == r.SubStatusID {
				continue // the same row twice (a repeated page)
			}
		}
		o := events.AgentStatusChanged{
			UserID: r.UserID, DisplayName: r.DisplayName,
			CurrentStatusID: r.StatusID, CurrentStatusName: r.StatusName,
			CurrentSubStatusID: r.SubStatusID, CurrentSubStatusName: r.SubStatusName,
			DateTime: milli(r.StartTime),
		}
		if prev != nil {
			o.PreviousStatusID, o.PreviousStatusName = prev.StatusID, prev.StatusName
			o.PreviousSubStatusID, o.PreviousSubStatusName = prev.SubStatusID, prev.SubStatusName
		}
		ts := ms(r.StartTime)
		agent := events.Agent{UserID: r.UserID, DisplayName: r.DisplayName, DateTime: milli(r.StartTime)}
		offline := strings.EqualFold(r.StatusName, statusOffline)
		switch {
		case offline && (prev == nil || !strings.EqualFold(prev.StatusName, statusOffline)):
			out = append(out, rebuiltEvent{Name: evLogout, TS: ts, UserID: r.UserID, Object: agent})
		case !offline && prev != nil && strings.EqualFold(prev.StatusName, statusOffline):
			out = append(out, rebuiltEvent{Name: evLogin, TS: ts, UserID: r.UserID, Object: agent})
		}
		out = append(out, rebuiltEvent{Name: evStatusChanged, TS: ts, UserID: r.UserID, Object: o})
	}
	slices.SortStableFunc(out, func(a, b rebuiltEvent) int { return cmp.Compare(a.TS, b.TS) })
	return out
}

func boundedType(s string) string {
	if len(s) > maxEventTypeBytes {
		s = s[:maxEventTypeBytes]
	}
	return strings.ToValidUTF8(s, "?")
}
