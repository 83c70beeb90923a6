package zoomrest

import (
	"encoding/json"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	for in, want := range map[string]string{
		"2026-11-24T02:33:46Z":        "2026-11-24T02:33:46Z",
		"2026-11-24T02:33:46.123Z":    "2026-11-24T02:33:46.123Z",
		"2026-11-24T04:33:46+02:00":   "2026-11-24T02:33:46Z",
		"2026-11-23T21:33:46.5-05:00": "2026-11-24T02:33:46.5Z",
		"2026-11-24T04:33:46+0200":    "2026-11-24T02:33:46Z",
		"2026-11-24T02:33:46":         "2026-11-24T02:33:46Z",
		"2026-11-24":                  "2026-11-24T00:00:00Z",
		"":                            "0001-01-01T00:00:00Z",
	} {
		got, err := parseTime(in)
		if err != nil || got.UTC().Format(time.RFC3339Nano) != want {
			t.Errorf("parseTime(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"yesterday", "2026-13-01", "0000-01-01T00:00:00Z", "1627906944384"} {
		if _, err := parseTime(bad); err == nil {
			t.Errorf("parseTime(%q): no error", bad)
		}
	}
	var a AgentStatus
	if err := json.Unmarshal([]byte(`{"status_id":2,"duration":"12","start_time":null,"end_time":"2026-11-24T02:33:46+00:00"}`), &a); err != nil ||
		a.StatusID != "2" || a.Duration != 12 || !a.StartTime.IsZero() || a.EndTime.IsZero() {
		t.Errorf("odd values: %+v, %v", a, err)
	}
}

// FuzzDecode feeds every response decoder: none may panic, and a time
// read is a real one.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"next_page_token":"a","engagements":[{"engagement_id":"e","start_time":"2026-11-24T02:33:46Z","end_time":"2026-11-24T04:33:46+02:00","transfer_count":"1","notes":[{"last_modified_time":"2026-11-24"}]}]}`,
		`{"engagement_id":"e","events":[{"start_time":"2026-11-24T02:33:46.5-05:00","duration":1.7,"event_type":"Hold"}]}`,
		`{"statuses":[{"user_id":"u","status_id":3,"start_time":"2026-11-24T02:33:46","end_time":"","duration":null}]}`,
		`{"users":[{"user_id":"u","last_modified_time":"2026-11-24T02:33:46.123+0530"}],"next_page_token":null}`,
		`{"recordings":[{"recording_start_time":"x"}]}`,
		`{"engagement_id":"e","statuses":[{"status":"start","last_modified_time":"2026-11-24T02:33:46Z"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(ts ...time.Time) {
			for _, v := range ts {
				if !v.IsZero() && (v.Year() < 1970 || v.Year() > 9999) {
					t.Fatalf("time %v read from %q", v, b)
				}
			}
		}
		if es, _, err := decodePage[Engagement](b, "engagements"); err == nil {
			for _, e := range es {
				check(e.StartTime, e.EndTime)
			}
		}
		decodePage[AgentStatus](b, "statuses")
		decodePage[User](b, "users")
		decodePage[Recording](b, "recordings")
		var d EngagementDetail
		if json.Unmarshal(b, &d) == nil {
			for _, e := range d.Events {
				check(e.StartTime)
			}
		}
		var r RecordingStatus
		json.Unmarshal(b, &r)
	})
}
