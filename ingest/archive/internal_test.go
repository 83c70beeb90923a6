package archive

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
	}{
		{"7", 7 * time.Second},
		{"2026-11-24T01:00:30Z", 30 * time.Second},         // the daily limit's ISO-8601 time
		{"Tue, 24 Nov 2026 01:02:00 GMT", 2 * time.Minute}, // an HTTP date
		{"2026-11-24T00:00:00Z", 0},                        // already past
	} {
		h := http.Header{}
		h.Set("Retry-After", tc.v)
		if got := retryAfter(h, now, 1, time.Second); got != tc.want {
			t.Errorf("Retry-After %q: %s, want %s", tc.v, got, tc.want)
		}
	}
	// Without the header: the base, doubling, less at most a fifth.
	if got := retryAfter(http.Header{}, now, 3, time.Second); got > 4*time.Second || got < 3*time.Second {
		t.Errorf("backoff at attempt 3: %s", got)
	}
}

func TestFileKeyBounded(t *testing.T) {
	if k := fileKey("abc-DEF_1="); k != "abc-DEF_1=" {
		t.Errorf("plain id changed: %q", k)
	}
	for _, id := range []string{"a.b", "a/b", "a b", string(make([]byte, 500)), "ü"} {
		k := fileKey(id)
		if !keySafe.MatchString(k) || len(k) > 40 {
			t.Errorf("fileKey(%q) = %q", id, k)
		}
	}
	if fileKey("a.b") == fileKey("a/b") {
		t.Error("two ids, one key")
	}
}

func TestSubjectToken(t *testing.T) {
	for in, want := range map[string]string{"Acct-1_x": "Acct-1_x", "a.b*c>": "a_b_c_", "": "_"} {
		if got := subjectToken(in); got != want {
			t.Errorf("subjectToken(%q) = %q, want %q", in, got, want)
		}
	}
}

// The fixture decodes into what the poller uses.
func TestDecodeFixture(t *testing.T) {
	data, err := os.ReadFile("testdata/archive_files.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err := DecodeList(data)
	if err != nil {
		t.Fatal(err)
	}
	m := r.Meetings[0]
	f := m.Files[0]
	if m.UUID != "aDYlohsHRtCd4ii1uC2+hA==" || m.CompleteTime == "" || len(m.Files) != 2 {
		t.Errorf("meeting %+v", m)
	}
	if f.Problem() != "" || !f.Completed() || f.FileSize != 529620 || f.SHA256() == "" || f.FileType != "MP4" || f.RecordingType == "" {
		t.Errorf("file %+v (problem %q)", f, f.Problem())
	}
}

func TestHeaderValue(t *testing.T) {
	if got := headerValue("MP4\r\nNats-Msg-Id: x"); got != "MP4__Nats-Msg-Id: x" {
		t.Errorf("headerValue = %q", got)
	}
	if got := headerValue(strings.Repeat("a", 1000)); len(got) != 256 {
		t.Errorf("headerValue kept %d bytes", len(got))
	}
}
