package events_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/zccingest/zccingest/events"
)

func TestVoiceRTMS(t *testing.T) {
	for _, name := range []string{"contact_center.voice_rtms_started", "contact_center.voice_rtms_stopped", "contact_center.voice_rtms_interrupted"} {
		t.Run(name, func(t *testing.T) {
			ev, v := typedExample(t, name)
			if ev.Family() != events.FamilyRTMS || ev.AccountID != "" || ev.PayloadExtra != nil {
				t.Errorf("envelope: family %s account %q payload extra %v", ev.Family(), ev.AccountID, ev.PayloadExtra)
			}
			if ev.Subject("zoom") != "zoom._.cc.rtms."+strings.TrimPrefix(name, "contact_center.voice_rtms_") {
				t.Errorf("Subject = %q", ev.Subject("zoom"))
			}
			var o events.VoiceRTMS
			switch v := v.(type) {
			case *events.VoiceRTMSStarted:
				o = v.VoiceRTMS
				if o.ServerURLs != "wss://127.0.0.1:443" || len(o.URLs()) != 1 {
					t.Errorf("server_urls = %q", o.ServerURLs)
				}
			case *events.VoiceRTMSStopped:
				o = v.VoiceRTMS
				if o.StopReason != 1 {
					t.Errorf("StopReason = %d", o.StopReason)
				}
			case *events.VoiceRTMSInterrupted:
				o = v.VoiceRTMS
			default:
				t.Fatalf("Typed = %T", v)
			}
			if o.EngagementID != "4444AAAiAAAAAiAiAiiAii==" || o.RTMSStreamID != "609340fb2a7946909659956c8aa9250c" {
				t.Errorf("fields = %+v", o)
			}
		})
	}
}

func TestVoiceRTMSURLs(t *testing.T) {
	o := events.VoiceRTMS{ServerURLs: "wss://a.zoom.us:443, https://b.zoom.us ,,"}
	if got := o.URLs(); len(got) != 2 || got[0] != "wss://a.zoom.us:443" || got[1] != "https://b.zoom.us" {
		t.Errorf("URLs = %q", got)
	}
}

// A flat payload that also names an account (should Zoom add it) keeps it.
func TestVoiceRTMSWithAccount(t *testing.T) {
	ex := bytes.Replace(readExample(t, "contact_center.voice_rtms_started"), []byte(`"payload": {`), []byte(`"payload": {"account_id": "acct",`), 1)
	ev := decode(t, frameOf(t, ex))
	if ev.AccountID != "acct" || ev.Subject("zoom") != "zoom.acct.cc.rtms.started" {
		t.Errorf("account %q subject %q", ev.AccountID, ev.Subject("zoom"))
	}
	if key, _ := ev.RTMSClaimKey(); key != "acct.4444AAAiAAAAAiAiAiiAii==.609340fb2a7946909659956c8aa9250c" {
		t.Errorf("claim key %q", key)
	}
}

func TestRTMSClaimKey(t *testing.T) {
	ev := decode(t, frameOf(t, readExample(t, "contact_center.voice_rtms_started")))
	key, err := ev.RTMSClaimKey()
	if err != nil {
		t.Fatal(err)
	}
	if key != "_.4444AAAiAAAAAiAiAiiAii==.609340fb2a7946909659956c8aa9250c" {
		t.Errorf("key = %q", key)
	}
	// The failover's second started, and a pair's copy: the same key.
	again := decode(t, frameOf(t, bytes.Replace(readExample(t, "contact_center.voice_rtms_started"),
		[]byte(`"wss://127.0.0.1:443"`), []byte(`"wss://10.0.0.2:443"`), 1)))
	if k, _ := again.RTMSClaimKey(); k != key {
		t.Errorf("failover key %q, want %q", k, key)
	}
	msg, err := ev.Message("zoom", "ris-a", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get(events.HeaderRTMSClaim) != key {
		t.Errorf("%s = %q, want %q", events.HeaderRTMSClaim, msg.Header.Get(events.HeaderRTMSClaim), key)
	}

	// Ids that are not valid key tokens, or too long, become digests;
	// distinct ids keep distinct keys.
	keys := map[string]string{}
	for _, id := range []string{"a.b", "a_b", "a*b", "a>b", "a b", "é", strings.Repeat("x", 129), strings.Repeat("x", 128), "a+b"} {
		content := `{"event":"contact_center.voice_rtms_started","event_ts":1,"payload":{"engagement_id":` +
			jsonString(id) + `,"rtms_stream_id":"s"}}`
		k, err := decode(t, frameOf(t, []byte(content))).RTMSClaimKey()
		if err != nil {
			t.Fatal(err)
		}
		if other, dup := keys[k]; dup {
			t.Errorf("ids %q and %q share key %q", id, other, k)
		}
		keys[k] = id
		toks := strings.Split(k, ".")
		if len(toks) != 3 || len(k) > 3*130 {
			t.Errorf("id %q: key %q", id, k)
		}
		for _, tok := range toks {
			for _, c := range []byte(tok) {
				if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '=' || c == '/') {
					t.Errorf("id %q: key %q has %q", id, k, c)
				}
			}
		}
	}

	for _, content := range []string{
		`{"event":"contact_center.voice_rtms_started","event_ts":1,"payload":{"rtms_stream_id":"s"}}`,
		`{"event":"contact_center.voice_rtms_started","event_ts":1,"payload":{"engagement_id":"e"}}`,
		`{"event":"contact_center.engagement_ended","event_ts":1,"payload":{"account_id":"a","object":{"engagement_id":"e"}}}`,
	} {
		if _, err := decode(t, frameOf(t, []byte(content))).RTMSClaimKey(); !errors.Is(err, events.ErrNoRTMSStream) {
			t.Errorf("%s: error %v, want ErrNoRTMSStream", content, err)
		}
	}
	bad := `{"event":"contact_center.voice_rtms_started","event_ts":1,"payload":{"engagement_id":5,"rtms_stream_id":"s"}}`
	if _, err := decode(t, frameOf(t, []byte(bad))).RTMSClaimKey(); err == nil || !strings.Contains(err.Error(), "engagement_id") {
		t.Errorf("error %v, want one naming engagement_id", err)
	}
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}
