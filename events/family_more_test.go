package events_test

import (
	"testing"

	"github.com/zccingest/zccingest/events"
)

// The families of the recording batch: each event's Go type and its typed
// fields against Zoom's example (TestDecodeExamples re-encodes them all).

func TestRecording(t *testing.T) {
	for _, tc := range []struct {
		name        string
		recordingID string
		engagement  bool // recording_deleted and _permanently_deleted carry none
		startMs     string
		dateTime    string // completed and transcript_completed carry none
	}{
		{"contact_center.recording_started", "ghyetrjj_sdfsdgfkdjfl111", true, "", "2022-02-15T09:27:15.987Z"},
		{"contact_center.recording_paused", "ghyetrjj_sdfsdgfkdjfl111", true, "2022-02-15T08:12:15.987Z", "2022-02-15T09:27:15.987Z"},
		{"contact_center.recording_resumed", "ghyetrjj_sdfsdgfkdjfl111", true, "2022-02-15T08:12:15.986Z", "2022-02-15T09:27:15.987Z"},
		{"contact_center.recording_stopped", "ghyetrjj_sdfsdgfkdjfl111", true, "2022-02-15T08:12:15.986Z", "2022-02-15T09:27:15.987Z"},
		{"contact_center.recording_completed", "ghyetrjj_sdfsdgfkdjfl11", true, "2022-02-15T08:12:15.986Z", ""},
		{"contact_center.recording_transcript_completed", "ghyetrjj_sdfsdgfkdjfl11", true, "2022-02-15T08:12:15.986Z", ""},
		{"contact_center.recording_deleted", "ghyetrjj_sdfsdgfkdjfl11", false, "", "2023-03-30T14:15:57.987Z"},
		{"contact_center.recording_permanently_deleted", "ghyetrjj_sdfsdgfkdjfl11", false, "", "2023-03-30T14:15:57.987Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, v := typedExample(t, tc.name)
			var o events.Recording
			switch v := v.(type) {
			case *events.RecordingStarted:
				o = v.Recording
			case *events.RecordingPaused:
				o = v.Recording
			case *events.RecordingResumed:
				o = v.Recording
			case *events.RecordingStopped:
				o = v.Recording
			case *events.RecordingCompleted:
				o = v.Recording
				if o.RecordingDuration != 150 || !o.RecordingEndTime.Equal(mustTime(t, "2022-02-15T09:27:15.987Z")) {
					t.Errorf("duration %d end %v", o.RecordingDuration, o.RecordingEndTime)
				}
			case *events.RecordingTranscriptCompleted:
				o = v.Recording
				if o.TranscriptURL == "" {
					t.Errorf("TranscriptURL empty")
				}
			case *events.RecordingDeleted:
				o = v.Recording
			case *events.RecordingPermanentlyDeleted:
				o = v.Recording
			default:
				t.Fatalf("Typed = %T", v)
			}
			if ev.Family() != events.FamilyRecording || o.RecordingID != tc.recordingID {
				t.Errorf("%s fields = %+v", ev.Family(), o)
			}
			if tc.engagement {
				if o.EngagementID != "u154t5-ASlK83fZb1YWqgw" || len(o.Users) != 1 || o.Users[0].UserID != "IGTRVt3gQ2i-WjoUIjeZxw" ||
					len(o.Consumers) != 1 || o.Consumers[0].ConsumerNumber != "+18005550100" || o.OwnerType != "user" {
					t.Errorf("engagement fields = %+v", o)
				}
			} else if o.EngagementID != "" || o.Users != nil {
				t.Errorf("deleted recording with engagement fields %+v", o)
			}
			if o.RecordingStartTime.IsZero() != (tc.startMs == "") {
				t.Errorf("RecordingStartTime = %v, want %q", o.RecordingStartTime, tc.startMs)
			}
			if tc.dateTime == "" && !o.DateTime.IsZero() || tc.dateTime != "" && !o.DateTime.Equal(mustTime(t, tc.dateTime)) {
				t.Errorf("DateTime = %v, want %q", o.DateTime, tc.dateTime)
			}
		})
	}
}

func TestConference(t *testing.T) {
	for _, tc := range []struct {
		name        string
		participant string // the user id of the event's own participant key
	}{
		{"contact_center.engagement_conference_participant_invited", ""},
		{"contact_center.engagement_conference_participant_joined", "ppsafdjsahfdag"},
		{"contact_center.engagement_conference_participant_left", ""},
		{"contact_center.engagement_conference_participant_rejected", ""},
		{"contact_center.engagement_conference_participant_timeout", ""},
		{"contact_center.engagement_conference_participant_canceled", ""},
		{"contact_center.engagement_conference_canceled", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, v := typedExample(t, tc.name)
			var o events.Conference
			var own *events.ConferenceParticipant
			switch v := v.(type) {
			case *events.ConferenceParticipantInvited:
				o, own = v.Conference, v.Invited
			case *events.ConferenceParticipantJoined:
				o, own = v.Conference, v.Joining
			case *events.ConferenceParticipantLeft:
				o, own = v.Conference, v.Leaving
			case *events.ConferenceParticipantRejected:
				o, own = v.Conference, v.Rejecting
			case *events.ConferenceParticipantTimeout:
				o, own = v.Conference, v.TimedOut
			case *events.ConferenceParticipantCanceled:
				o, own = v.Conference, v.Canceled
			case *events.ConferenceCanceled:
				o = v.Conference
				if o.Participant() != nil || o.Participants != nil {
					t.Errorf("conference_canceled with participants %+v", o)
				}
			default:
				t.Fatalf("Typed = %T", v)
			}
			if ev.Family() != events.FamilyConference || o.EngagementID != "KGyggzS9QXWjt7L7yl2OxQ" ||
				o.ConferenceID != "cc2bc81c-f6fe-4445-89c2-21a04994fb3d" || len(o.Teams) != 1 || o.Teams[0].TeamName != "My team" ||
				o.DivisionID != "865BmPAaSG69vc1ZI9cxlg" || !o.DateTime.Equal(mustTime(t, "2025-12-15T07:50:48.536Z")) {
				t.Errorf("%s fields = %+v", ev.Family(), o)
			}
			if _, ok := v.(*events.ConferenceCanceled); ok {
				return
			}
			if own == nil || o.Participant() != own || own.UserID == "" {
				t.Fatalf("own participant = %+v, Participant() = %+v", own, o.Participant())
			}
			if tc.participant != "" && own.UserID != tc.participant {
				t.Errorf("participant = %q, want %q", own.UserID, tc.participant)
			}
			if len(o.Participants) == 0 || o.Participants[0].Role != "customer" || o.Participants[0].PhoneNumber == "" {
				t.Errorf("participants = %+v", o.Participants)
			}
		})
	}
}

func TestEngagementMore(t *testing.T) {
	for _, name := range []string{
		"contact_center.engagement_ended", "contact_center.engagement_user_muted",
		"contact_center.engagement_user_unmuted", "contact_center.engagement_user_dtmf_sent",
	} {
		t.Run(name, func(t *testing.T) {
			ev, v := typedExample(t, name)
			var o events.Engagement
			switch v := v.(type) {
			case *events.EngagementEnded:
				o = v.Engagement
			case *events.EngagementUserMuted:
				o = v.Engagement
			case *events.EngagementUserUnmuted:
				o = v.Engagement
			case *events.EngagementUserDTMFSent:
				o = v.Engagement
				if o.DTMFInput != "*1234" {
					t.Errorf("DTMFInput = %q", o.DTMFInput)
				}
			default:
				t.Fatalf("Typed = %T", v)
			}
			if ev.Family() != events.FamilyEngagement || o.EngagementID != "u154t5-ASlK83fZb1YWqgw" || o.DateTime.IsZero() {
				t.Errorf("%s fields = %+v", ev.Family(), o)
			}
		})
	}
	for _, name := range []string{"contact_center.engagement_monitor_started", "contact_center.engagement_monitor_ended", "contact_center.engagement_takeover_started"} {
		t.Run(name, func(t *testing.T) {
			_, v := typedExample(t, name)
			var o events.Supervision
			switch v := v.(type) {
			case *events.EngagementMonitorStarted:
				o = v.Supervision
			case *events.EngagementMonitorEnded:
				o = v.Supervision
			case *events.EngagementTakeoverStarted:
				o = v.Supervision
				if o.TakeoverUserID == "" {
					t.Errorf("TakeoverUserID empty")
				}
			default:
				t.Fatalf("Typed = %T", v)
			}
			if o.EngagementID != "u154t5-ASlK83fZb1YWqgw" || o.UserID != "IGTRVt3gQ2i-WjoUIjeZxw" || o.ContactCenterNumber != "+18005550100" {
				t.Errorf("fields = %+v", o)
			}
			if name != "contact_center.engagement_takeover_started" && (o.MonitoringUserID == "" || o.ActionType != "barge") {
				t.Errorf("monitor fields = %+v", o)
			}
		})
	}
	for _, name := range []string{"contact_center.engagement_upgrade_initiated", "contact_center.engagement_upgrade_completed", "contact_center.engagement_upgrade_expired"} {
		t.Run(name, func(t *testing.T) {
			_, v := typedExample(t, name)
			var o events.Upgrade
			switch v := v.(type) {
			case *events.EngagementUpgradeInitiated:
				o = v.Upgrade
			case *events.EngagementUpgradeCompleted:
				o = v.Upgrade
			case *events.EngagementUpgradeExpired:
				o = v.Upgrade
			default:
				t.Fatalf("Typed = %T", v)
			}
			if o.EngagementID != "u154t5-ASlK83fZb1YWqgw" || o.UpgradeToChannel != "video" || len(o.Users) != 1 || len(o.Consumers) != 1 {
				t.Errorf("fields = %+v", o)
			}
		})
	}
	t.Run("contact_center.engagement_disposition_added", func(t *testing.T) {
		_, v := typedExample(t, "contact_center.engagement_disposition_added")
		o, ok := v.(*events.EngagementDispositionAdded)
		if !ok {
			t.Fatalf("Typed = %T", v)
		}
		if o.DispositionName != "My disposition" || o.EngagementID != "HdOQ9e_aRdO0lyQutA17qQ" || !o.LastModifiedTime.Equal(mustTime(t, "2021-12-03T05:07:46Z")) {
			t.Errorf("fields = %+v", o)
		}
	})
	t.Run("contact_center.engagement_note_added", func(t *testing.T) {
		_, v := typedExample(t, "contact_center.engagement_note_added")
		o, ok := v.(*events.EngagementNoteAdded)
		if !ok {
			t.Fatalf("Typed = %T", v)
		}
		if o.NoteID != "W_VATTk_Q5aW6z5rZtBxAQ" || o.Text != "This is the example note content." || !o.LastModifiedTime.Equal(mustTime(t, "2022-05-23T14:15:57Z")) {
			t.Errorf("fields = %+v", o)
		}
	})
	t.Run("contact_center.engagement_survey_status", func(t *testing.T) {
		_, v := typedExample(t, "contact_center.engagement_survey_status")
		o, ok := v.(*events.EngagementSurveyStatus)
		if !ok {
			t.Fatalf("Typed = %T", v)
		}
		if o.SurveyStatus != "completed" || o.ConsumerEmail != "janedoe@example.com" || o.EngagementID != "u154t5-ASlK83fZb1YWqgw" {
			t.Errorf("fields = %+v", o)
		}
	})
	t.Run("contact_center.cx_engagement_end_data_ready", func(t *testing.T) {
		ev, v := typedExample(t, "contact_center.cx_engagement_end_data_ready")
		o, ok := v.(*events.CXEngagementEndDataReady)
		if !ok {
			t.Fatalf("Typed = %T", v)
		}
		if ev.Family() != events.FamilyEngagement || o.EngagementID != "u154t5-ASlK83fZb1YWqgw" || !o.StartTime.Equal(mustTime(t, "2023-05-01T09:25:18.264Z")) {
			t.Errorf("fields = %+v", o)
		}
	})
}

func TestTaskQueue(t *testing.T) {
	for _, name := range []string{"contact_center.task_entered_queue", "contact_center.task_exited_queue"} {
		t.Run(name, func(t *testing.T) {
			ev, v := typedExample(t, name)
			var o events.TaskQueue
			switch v := v.(type) {
			case *events.TaskEnteredQueue:
				o = v.TaskQueue
			case *events.TaskExitedQueue:
				o = v.TaskQueue
			default:
				t.Fatalf("Typed = %T", v)
			}
			if ev.Family() != events.FamilyTask || o.TaskID != "ZWTFBC1C663A02CFCDD971EC9B538C49372" || o.QueueID != "xqJE_cgERLyAJHYYL5LLeg" ||
				o.MaxWaitTime != 50 || o.DistributionDurationInSeconds != 30 || o.ShortAbandonEnable {
				t.Errorf("%s fields = %+v", ev.Family(), o)
			}
		})
	}
}
