package events_test

import (
	"testing"

	"github.com/zccingest/zccingest/events"
)

// Each family's table names every event of the family, the Go type it
// decodes to, and checks typed fields against Zoom's example.

func typedExample(t *testing.T, name string) (*events.Event, any) {
	t.Helper()
	ev := decode(t, frameOf(t, readExample(t, name)))
	v, err := ev.Typed()
	if err != nil {
		t.Fatalf("Typed: %v", err)
	}
	return ev, v
}

func TestUserActivity(t *testing.T) {
	for _, name := range []string{"user.signed_in", "user.signed_out"} {
		t.Run(name, func(t *testing.T) {
			ev, v := typedExample(t, name)
			var s events.UserSession
			switch v := v.(type) {
			case *events.UserSignedIn:
				s = v.UserSession
			case *events.UserSignedOut:
				s = v.UserSession
			default:
				t.Fatalf("Typed = %T", v)
			}
			if ev.Family() != events.FamilyUser || ev.TS != 1626230691572 || ev.AccountID != "AAAAAABBBB" {
				t.Errorf("envelope = %s %d %s", ev.Family(), ev.TS, ev.AccountID)
			}
			if s.ID != "abcD3ojfdbjfg" || s.Email != "jchill@example.com" || s.ClientType != "android" || s.Version != "5.7.4.1585" {
				t.Errorf("fields = %+v", s)
			}
			// Zoom's example sends login_type as the string "100".
			if s.LoginType != (events.FlexInt{Value: 100, Quoted: true}) {
				t.Errorf("LoginType = %+v", s.LoginType)
			}
			if !s.DateTime.Equal(mustTime(t, "2021-07-26T20:13:57Z")) {
				t.Errorf("DateTime = %v", s.DateTime)
			}
		})
	}
	t.Run("user.presence_status_updated", func(t *testing.T) {
		_, v := typedExample(t, "user.presence_status_updated")
		p, ok := v.(*events.PresenceStatusUpdated)
		if !ok {
			t.Fatalf("Typed = %T", v)
		}
		// Zoom's example spells date_time "date-time".
		if !p.DateTime.Equal(mustTime(t, "2019-11-26T20:13:57Z")) {
			t.Errorf("DateTime = %v", p.DateTime)
		}
		if p.PresenceStatus != "Away" || p.App == nil || p.App.Type != "mobile" || p.App.PresenceStatus != "Offline" {
			t.Errorf("fields = %+v app %+v", p, p.App)
		}
	})
}

func TestTask(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   string
		priority int
	}{
		{"contact_center.task_created", "pending", 0},
		{"contact_center.task_updated", "pending", 10},
		{"contact_center.task_completed", "completed", 0},
		{"contact_center.task_canceled", "canceled", 10},
		{"contact_center.task_deleted", "pending", 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, v := typedExample(t, tc.name)
			var o events.Task
			switch v := v.(type) {
			case *events.TaskCreated:
				o = v.Task
			case *events.TaskUpdated:
				o = v.Task
			case *events.TaskCompleted:
				o = v.Task
			case *events.TaskCanceled:
				o = v.Task
			case *events.TaskDeleted:
				o = v.Task
			default:
				t.Fatalf("Typed = %T", v)
			}
			if ev.Family() != events.FamilyTask {
				t.Errorf("Family = %s", ev.Family())
			}
			if o.TaskID != "ZWTFBC1C663A02CFCDD971EC9B538C49372" || o.TaskStatus != tc.status || o.TaskPriority != tc.priority ||
				o.TaskTimeout != 86400 || o.AutoAssign || o.QueueID != "xqJE_cgERLyAJHYYL5LLeg" || o.EngagementID != "HdOQ9e_aRdO0lyQutA17qQ" {
				t.Errorf("fields = %+v", o)
			}
			want := mustTime(t, "2022-06-14T15:56:53.987Z")
			if !o.CreatedTime.Equal(want) || !o.LastModifiedTime.Equal(want) {
				t.Errorf("times = %v, %v", o.CreatedTime, o.LastModifiedTime)
			}
		})
	}
}

func TestReservation(t *testing.T) {
	for _, tc := range []struct {
		name      string
		direction string // absent from some of Zoom's examples
	}{
		{"contact_center.task_reservation_created", "outbound"},
		{"contact_center.task_reservation_accepted", "outbound"},
		{"contact_center.task_reservation_canceled", ""},
		{"contact_center.task_reservation_completed", "outbound"},
		{"contact_center.task_reservation_rejected", ""},
		{"contact_center.task_reservation_timeout", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, v := typedExample(t, tc.name)
			var o events.Reservation
			switch v := v.(type) {
			case *events.ReservationCreated:
				o = v.Reservation
			case *events.ReservationAccepted:
				o = v.Reservation
			case *events.ReservationCanceled:
				o = v.Reservation
			case *events.ReservationCompleted:
				o = v.Reservation
			case *events.ReservationRejected:
				o = v.Reservation
			case *events.ReservationTimeout:
				o = v.Reservation
			default:
				t.Fatalf("Typed = %T", v)
			}
			if ev.Family() != events.FamilyReservation {
				t.Errorf("Family = %s", ev.Family())
			}
			if o.ReservationID != "ZWR1C1FB695C654A829FE56553A709E8EBB" || o.AssignedUserID != "M2rStJNqSyOlmyw-ti2fGg" ||
				o.EngagementDirection != tc.direction || o.ChannelSource != "in_app_video" || o.CallerNumber != "1026" {
				t.Errorf("fields = %+v", o)
			}
			if !o.CreatedTime.Equal(mustTime(t, "2022-06-14T15:56:53.987Z")) {
				t.Errorf("CreatedTime = %v", o.CreatedTime)
			}
		})
	}
}

func TestAgent(t *testing.T) {
	for _, name := range []string{"contact_center.user_login", "contact_center.user_logout"} {
		t.Run(name, func(t *testing.T) {
			ev, v := typedExample(t, name)
			var o events.Agent
			switch v := v.(type) {
			case *events.AgentLogin:
				o = v.Agent
			case *events.AgentLogout:
				o = v.Agent
			default:
				t.Fatalf("Typed = %T", v)
			}
			if ev.Family() != events.FamilyAgent || o.UserID != "ukAAkZKfROKMSw1bj_RDFQ" || o.Email != "johndoe@example.com" {
				t.Errorf("%s fields = %+v", ev.Family(), o)
			}
			if !o.DateTime.Equal(mustTime(t, "2022-02-15T09:27:15.987Z")) {
				t.Errorf("DateTime = %v", o.DateTime)
			}
		})
	}
	t.Run("contact_center.user_status_changed", func(t *testing.T) {
		_, v := typedExample(t, "contact_center.user_status_changed")
		o, ok := v.(*events.AgentStatusChanged)
		if !ok {
			t.Fatalf("Typed = %T", v)
		}
		if o.PreviousSubStatusName != "Break" || o.CurrentSubStatusName != "Meal" || o.CurrentStatusID != "2" {
			t.Errorf("fields = %+v", o)
		}
	})
}

func TestEngagement(t *testing.T) {
	for _, tc := range []struct {
		name    string
		id      string
		channel string
	}{
		{"contact_center.engagement_started", "u154t5-ASlK83fZb1YWqgw", "voice"},
		{"contact_center.engagement_consumer_notified", "u154t5-ASlK83fZb1YWqgw", "video"},
		{"contact_center.engagement_user_answered", "u154t5-ASlK83fZb1YWqgw", "video"},
		{"contact_center.engagement_consumer_answered", "u154t5-ASlK83fZb1YWqgw", "video"},
		{"contact_center.engagement_user_ended", "u154t5-ASlK83fZb1YWqgw", "video"},
		{"contact_center.engagement_consumer_ended", "u154t5-ASlK83fZb1YWqgw", "voice"},
		{"contact_center.engagement_user_hold", "u154t5-ASlK83fZb1YWqgw", "video"},
		{"contact_center.engagement_user_unhold", "u154t5-ASlK83fZb1YWqgw", "video"},
		{"contact_center.engagement_wrap_up_started", "HdOQ9e_aRdO0lyQutA17qQ", "video"},
		{"contact_center.engagement_wrap_up_ended", "HdOQ9e_aRdO0lyQutA17qQ", "video"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, v := typedExample(t, tc.name)
			var o events.Engagement
			switch v := v.(type) {
			case *events.EngagementStarted:
				o = v.Engagement
				if o.TransferFrom != "zoom_phone" || o.TransferFromID != "7396294160320498337" {
					t.Errorf("transfer_from fields = %+v", o)
				}
			case *events.EngagementConsumerNotified:
				o = v.Engagement
				if o.ConsumerInviteEmail != "janedoe@example.com" {
					t.Errorf("consumer_invite_email = %q", o.ConsumerInviteEmail)
				}
			case *events.EngagementUserAnswered:
				o = v.Engagement
			case *events.EngagementConsumerAnswered:
				o = v.Engagement
			case *events.EngagementUserEnded:
				o = v.Engagement
			case *events.EngagementConsumerEnded:
				o = v.Engagement
			case *events.EngagementUserHold:
				o = v.Engagement
			case *events.EngagementUserUnhold:
				o = v.Engagement
			case *events.EngagementWrapUpStarted:
				o = v.Engagement
			case *events.EngagementWrapUpEnded:
				o = v.Engagement
			default:
				t.Fatalf("Typed = %T", v)
			}
			if ev.Family() != events.FamilyEngagement || o.EngagementID != tc.id || o.Channel != tc.channel || o.DateTime.IsZero() {
				t.Errorf("%s fields = %+v", ev.Family(), o)
			}
		})
	}
}

func TestTransfer(t *testing.T) {
	for _, name := range []string{
		"contact_center.engagement_transfer_initiated",
		"contact_center.engagement_transfer_queued",
		"contact_center.engagement_transfer_reserved",
		"contact_center.engagement_transfer_accepted",
		"contact_center.engagement_transfer_rejected",
		"contact_center.engagement_transfer_completed",
		"contact_center.engagement_transfer_canceled",
		"contact_center.engagement_transfer_timeout",
	} {
		t.Run(name, func(t *testing.T) {
			ev, v := typedExample(t, name)
			var o events.Transfer
			switch v := v.(type) {
			case *events.TransferInitiated:
				o = v.Transfer
				if o.TransferToInboxName != "My Inbox" {
					t.Errorf("TransferToInboxName = %q", o.TransferToInboxName)
				}
			case *events.TransferQueued:
				o = v.Transfer
			case *events.TransferReserved:
				o = v.Transfer
			case *events.TransferAccepted:
				o = v.Transfer
			case *events.TransferRejected:
				o = v.Transfer
			case *events.TransferCompleted:
				o = v.Transfer
			case *events.TransferCanceled:
				o = v.Transfer
			case *events.TransferTimeout:
				o = v.Transfer
			default:
				t.Fatalf("Typed = %T", v)
			}
			if ev.Family() != events.FamilyTransfer || o.TaskID != "ZWTFBC1C663A02CFCDD971EC9B538C49372" ||
				o.TransferToTaskID != "ZWTAF8GB6GW796WER6B8WET3BG8H3JWE89T" || o.TransferToTaskTimeout != 86400 ||
				o.TransferType != "warm" || o.EngagementID != "HdOQ9e_aRdO0lyQutA17qQ" {
				t.Errorf("%s fields = %+v", ev.Family(), o)
			}
			if !o.DateTime.Equal(mustTime(t, "2021-12-03T05:07:46.987Z")) {
				t.Errorf("DateTime = %v", o.DateTime)
			}
		})
	}
}
