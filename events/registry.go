package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// A Family groups events by what they are about. It is the subject token
// after the account (user, or cc.<family> for Contact Center events).
type Family string

const (
	FamilyUser        Family = "user"        // Zoom user activity: sign-in, sign-out, presence
	FamilyTask        Family = "task"        // Contact Center tasks
	FamilyReservation Family = "reservation" // a task reserved for an agent
	FamilyAgent       Family = "agent"       // Contact Center users: login, logout, status
	FamilyEngagement  Family = "engagement"  // engagements (calls, chats, video)
	FamilyTransfer    Family = "transfer"    // engagement transfers
	FamilyConference  Family = "conference"  // more parties on an engagement
	FamilyRecording   Family = "recording"   // Zoom's recordings of engagements
	FamilyRTMS        Family = "rtms"        // real-time media streams of voice engagements
	FamilyUnknown     Family = "unknown"     // an event this package does not model
)

type kind struct {
	name    string
	family  Family
	subject string // the subject tokens after the account
	new     func() any
	// flat: Zoom sends the object's fields in payload itself, with no
	// payload.object and no payload.account_id (the voice_rtms_* events).
	flat bool
}

// Each family's event names share a prefix, and their subjects another.
var familyNames = []struct {
	family        Family
	namePrefix    string
	subjectPrefix string
}{
	// Longer prefixes first: task_reservation_ before task_,
	// engagement_transfer_ and engagement_conference_ before engagement_.
	{FamilyReservation, "contact_center.task_reservation_", "cc.reservation."},
	{FamilyTask, "contact_center.task_", "cc.task."},
	{FamilyTransfer, "contact_center.engagement_transfer_", "cc.engagement.transfer."},
	{FamilyConference, "contact_center.engagement_conference_", "cc.engagement.conference."},
	{FamilyEngagement, "contact_center.engagement_", "cc.engagement."},
	{FamilyEngagement, "contact_center.cx_engagement_", "cc.engagement.cx_"},
	{FamilyRecording, "contact_center.recording_", "cc.recording."},
	{FamilyRTMS, "contact_center.voice_rtms_", "cc.rtms."},
	{FamilyAgent, "contact_center.user_", "cc.user."},
	{FamilyUser, "user.", "user."},
}

var registry = map[string]kind{}

func register(name string, new func() any) {
	for _, f := range familyNames {
		if action, ok := strings.CutPrefix(name, f.namePrefix); ok {
			registry[name] = kind{name: name, family: f.family, subject: f.subjectPrefix + action, new: new, flat: f.family == FamilyRTMS}
			return
		}
	}
	panic("events: no family for " + name)
}

func init() {
	register("user.signed_in", func() any { return new(UserSignedIn) })
	register("user.signed_out", func() any { return new(UserSignedOut) })
	register("user.presence_status_updated", func() any { return new(PresenceStatusUpdated) })

	register("contact_center.task_created", func() any { return new(TaskCreated) })
	register("contact_center.task_updated", func() any { return new(TaskUpdated) })
	register("contact_center.task_completed", func() any { return new(TaskCompleted) })
	register("contact_center.task_canceled", func() any { return new(TaskCanceled) })
	register("contact_center.task_deleted", func() any { return new(TaskDeleted) })
	register("contact_center.task_entered_queue", func() any { return new(TaskEnteredQueue) })
	register("contact_center.task_exited_queue", func() any { return new(TaskExitedQueue) })

	register("contact_center.task_reservation_created", func() any { return new(ReservationCreated) })
	register("contact_center.task_reservation_accepted", func() any { return new(ReservationAccepted) })
	register("contact_center.task_reservation_canceled", func() any { return new(ReservationCanceled) })
	register("contact_center.task_reservation_completed", func() any { return new(ReservationCompleted) })
	register("contact_center.task_reservation_rejected", func() any { return new(ReservationRejected) })
	register("contact_center.task_reservation_timeout", func() any { return new(ReservationTimeout) })

	register("contact_center.user_login", func() any { return new(AgentLogin) })
	register("contact_center.user_logout", func() any { return new(AgentLogout) })
	register("contact_center.user_status_changed", func() any { return new(AgentStatusChanged) })

	register("contact_center.engagement_started", func() any { return new(EngagementStarted) })
	register("contact_center.engagement_consumer_notified", func() any { return new(EngagementConsumerNotified) })
	register("contact_center.engagement_user_answered", func() any { return new(EngagementUserAnswered) })
	register("contact_center.engagement_consumer_answered", func() any { return new(EngagementConsumerAnswered) })
	register("contact_center.engagement_user_ended", func() any { return new(EngagementUserEnded) })
	register("contact_center.engagement_consumer_ended", func() any { return new(EngagementConsumerEnded) })
	register("contact_center.engagement_user_hold", func() any { return new(EngagementUserHold) })
	register("contact_center.engagement_user_unhold", func() any { return new(EngagementUserUnhold) })
	register("contact_center.engagement_wrap_up_started", func() any { return new(EngagementWrapUpStarted) })
	register("contact_center.engagement_wrap_up_ended", func() any { return new(EngagementWrapUpEnded) })
	register("contact_center.engagement_ended", func() any { return new(EngagementEnded) })
	register("contact_center.engagement_user_muted", func() any { return new(EngagementUserMuted) })
	register("contact_center.engagement_user_unmuted", func() any { return new(EngagementUserUnmuted) })
	register("contact_center.engagement_user_dtmf_sent", func() any { return new(EngagementUserDTMFSent) })
	register("contact_center.engagement_monitor_started", func() any { return new(EngagementMonitorStarted) })
	register("contact_center.engagement_monitor_ended", func() any { return new(EngagementMonitorEnded) })
	register("contact_center.engagement_takeover_started", func() any { return new(EngagementTakeoverStarted) })
	register("contact_center.engagement_upgrade_initiated", func() any { return new(EngagementUpgradeInitiated) })
	register("contact_center.engagement_upgrade_completed", func() any { return new(EngagementUpgradeCompleted) })
	register("contact_center.engagement_upgrade_expired", func() any { return new(EngagementUpgradeExpired) })
	register("contact_center.engagement_disposition_added", func() any { return new(EngagementDispositionAdded) })
	register("contact_center.engagement_note_added", func() any { return new(EngagementNoteAdded) })
	register("contact_center.engagement_survey_status", func() any { return new(EngagementSurveyStatus) })
	register("contact_center.cx_engagement_end_data_ready", func() any { return new(CXEngagementEndDataReady) })

	register("contact_center.engagement_transfer_initiated", func() any { return new(TransferInitiated) })
	register("contact_center.engagement_transfer_queued", func() any { return new(TransferQueued) })
	register("contact_center.engagement_transfer_reserved", func() any { return new(TransferReserved) })
	register("contact_center.engagement_transfer_accepted", func() any { return new(TransferAccepted) })
	register("contact_center.engagement_transfer_rejected", func() any { return new(TransferRejected) })
	register("contact_center.engagement_transfer_completed", func() any { return new(TransferCompleted) })
	register("contact_center.engagement_transfer_canceled", func() any { return new(TransferCanceled) })
	register("contact_center.engagement_transfer_timeout", func() any { return new(TransferTimeout) })

	register("contact_center.engagement_conference_participant_invited", func() any { return new(ConferenceParticipantInvited) })
	register("contact_center.engagement_conference_participant_joined", func() any { return new(ConferenceParticipantJoined) })
	register("contact_center.engagement_conference_participant_left", func() any { return new(ConferenceParticipantLeft) })
	register("contact_center.engagement_conference_participant_rejected", func() any { return new(ConferenceParticipantRejected) })
	register("contact_center.engagement_conference_participant_timeout", func() any { return new(ConferenceParticipantTimeout) })
	register("contact_center.engagement_conference_participant_canceled", func() any { return new(ConferenceParticipantCanceled) })
	register("contact_center.engagement_conference_canceled", func() any { return new(ConferenceCanceled) })

	register("contact_center.recording_started", func() any { return new(RecordingStarted) })
	register("contact_center.recording_paused", func() any { return new(RecordingPaused) })
	register("contact_center.recording_resumed", func() any { return new(RecordingResumed) })
	register("contact_center.recording_stopped", func() any { return new(RecordingStopped) })
	register("contact_center.recording_completed", func() any { return new(RecordingCompleted) })
	register("contact_center.recording_deleted", func() any { return new(RecordingDeleted) })
	register("contact_center.recording_permanently_deleted", func() any { return new(RecordingPermanentlyDeleted) })
	register("contact_center.recording_transcript_completed", func() any { return new(RecordingTranscriptCompleted) })

	register("contact_center.voice_rtms_started", func() any { return new(VoiceRTMSStarted) })
	register("contact_center.voice_rtms_stopped", func() any { return new(VoiceRTMSStopped) })
	register("contact_center.voice_rtms_interrupted", func() any { return new(VoiceRTMSInterrupted) })
}

// Names returns the names of the events this package models, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Known reports whether the package models the event.
func (e *Event) Known() bool {
	_, ok := registry[e.Name]
	return ok
}

// Family returns the event's family, FamilyUnknown for an event this package
// does not model.
func (e *Event) Family() Family {
	if k, ok := registry[e.Name]; ok {
		return k.family
	}
	return FamilyUnknown
}

// ErrUnknownEvent is returned by Typed for an event this package does not model.
var ErrUnknownEvent = errors.New("unknown event")

// Typed decodes the object into the event's struct, a pointer such as
// *EngagementUserAnswered. A field of the wrong type is an error that names
// the field; fields the struct does not model are kept in its Extra.
func (e *Event) Typed() (any, error) {
	k, ok := registry[e.Name]
	if !ok {
		return nil, fmt.Errorf("events: %s: %w", e.Name, ErrUnknownEvent)
	}
	v := k.new()
	if err := json.Unmarshal(e.Object, v); err != nil {
		return nil, decodeError("payload.object of "+e.Name, err)
	}
	return v, nil
}
