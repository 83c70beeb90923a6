package zoomrest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/ingest/zoomrest"
	"github.com/zccingest/zccingest/test/sim"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// simToken gets an access token from the simulator's token endpoint.
func simToken(t *testing.T, s *sim.Server) string {
	t.Helper()
	tok, err := s.AccessToken(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type env struct {
	s   *sim.Server
	g   *sim.Generator
	tok string
	t0  time.Time
	log *bytes.Buffer
}

// newEnv starts a simulator and generates n events through it at the
// clock's pace (step per event, ending about now), no socket open.
func newEnv(t *testing.T, n int, step time.Duration) *env {
	t.Helper()
	s := sim.New(sim.Options{})
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	s.SetREST(sim.RESTOptions{LightPerSecond: -1, MediumPerSecond: -1, HeavyPerSecond: -1})
	g := sim.NewGenerator(42, s.Options().AccountID, 8)
	t0 := time.Now().Add(-time.Duration(n) * step).Truncate(time.Millisecond)
	var i atomic.Int64
	g.SetClock(func() time.Time { return t0.Add(time.Duration(i.Add(1)) * step) })
	if _, err := s.Play(ctxT(t), g, 0, n); err != nil {
		t.Fatal(err)
	}
	return &env{s: s, g: g, tok: simToken(t, s), t0: t0, log: &bytes.Buffer{}}
}

func (e *env) client(t *testing.T, mod func(*zoomrest.Options)) *zoomrest.Client {
	t.Helper()
	o := zoomrest.Options{
		BaseURL: e.s.RESTURL(),
		Token:   func(context.Context) (string, error) { return e.tok, nil },
		Logger:  zerolog.New(&syncWriter{w: e.log}),
		// Tests of the budget set their own; the others are not about it.
		RequestsPerMinute: 600_000,
	}
	if mod != nil {
		mod(&o)
	}
	c, err := zoomrest.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (w *syncWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(b)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// E1 lists every processed engagement, across pages; E2 gives each one's
// timeline exactly as generated; E4 its recording history.
func TestEngagementsMatchTruth(t *testing.T) {
	e := newEnv(t, 1500, 100*time.Millisecond)
	c := e.client(t, func(o *zoomrest.Options) { o.PageSize = 7 })
	got, err := c.Engagements(ctxT(t), e.t0.Add(-time.Minute), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var want []sim.EngagementTruth
	for _, en := range e.g.Engagements() {
		if en.Completed != 0 {
			want = append(want, en)
		}
	}
	if len(want) < 15 || len(got) != len(want) {
		t.Fatalf("E1 listed %d engagements, %d were processed (want at least 15)", len(got), len(want))
	}
	if n := e.s.RESTCounts().Requests["engagements"]; n < len(want)/7 {
		t.Errorf("%d E1 requests for %d engagements at 7 a page: pagination not followed", n, len(want))
	}
	names := map[string]string{
		"contact_center.engagement_started": zoomrest.EventEngagementStart, "contact_center.task_reservation_created": zoomrest.EventAgentOffer,
		"contact_center.engagement_user_answered": zoomrest.EventAgentAccept, "contact_center.engagement_user_hold": zoomrest.EventHold,
		"contact_center.engagement_transfer_completed": zoomrest.EventTransfer, "contact_center.engagement_conference_participant_joined": zoomrest.EventConference,
		"contact_center.engagement_monitor_started": zoomrest.EventMonitor, "contact_center.engagement_wrap_up_started": zoomrest.EventWrapUp,
		"contact_center.engagement_ended": zoomrest.EventEngagementEnd,
	}
	for i, w := range want {
		g := got[i]
		if g.EngagementID != w.EngagementID || ms(g.StartTime) != w.Started || ms(g.EndTime) != w.Ended || g.Direction != w.Direction {
			t.Fatalf("E1 entry %d = %+v, want %+v", i, g, w)
		}
		d, err := c.Engagement(ctxT(t), w.EngagementID)
		if err != nil {
			t.Fatal(err)
		}
		var tl []string
		for _, ev := range w.Events {
			if n, ok := names[ev.Name]; ok {
				tl = append(tl, n+"@"+time.UnixMilli(ev.TS).UTC().Format(time.RFC3339Nano))
			}
		}
		var gl []string
		for _, ev := range d.Events {
			gl = append(gl, ev.EventType+"@"+ev.StartTime.UTC().Format(time.RFC3339Nano))
			if ev.EventType == zoomrest.EventAgentAccept && ev.UserID != w.AnsweredBy {
				t.Errorf("%s: Agent Accept by %s, answered by %s", w.EngagementID, ev.UserID, w.AnsweredBy)
			}
		}
		if !slices.Equal(gl, tl) {
			t.Fatalf("%s: E2 timeline\n%v\nwant\n%v", w.EngagementID, gl, tl)
		}
		rs, err := c.RecordingStatus(ctxT(t), w.EngagementID)
		if err != nil {
			t.Fatal(err)
		}
		var rg, rw []string
		for _, s := range rs.Statuses {
			rg = append(rg, s.Status+"@"+s.LastModifiedTime.UTC().Format(time.RFC3339Nano))
		}
		for _, s := range w.Recordings {
			rw = append(rw, s.Status+"@"+time.UnixMilli(s.TS).UTC().Format(time.RFC3339Nano))
		}
		if !slices.Equal(rg, rw) || len(rw) != 4 {
			t.Fatalf("%s: E4 %v, want %v", w.EngagementID, rg, rw)
		}
	}
	// An engagement not yet wrapped up is absent from E2; its recording
	// status is there.
	for id := range e.g.OpenEngagements() {
		if _, err := c.Engagement(ctxT(t), id); !errors.Is(err, zoomrest.ErrNotFound) {
			t.Errorf("open engagement %s: E2 err = %v, want ErrNotFound", id, err)
		}
		if _, err := c.RecordingStatus(ctxT(t), id); err != nil {
			t.Errorf("open engagement %s: E4: %v", id, err)
		}
	}
	recs, err := c.Recordings(ctxT(t), e.t0.Add(-time.Minute), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	done := 0
	for _, en := range e.g.Engagements() {
		if en.RecordingDone {
			done++
		}
	}
	if len(recs) != done || done == 0 {
		t.Errorf("E5 listed %d recordings, %d completed", len(recs), done)
	}
}

// E6 rows equal the generated status changes; E7 the agents' status now.
func TestStatusHistoryAndUsersMatchTruth(t *testing.T) {
	e := newEnv(t, 2000, 20*time.Millisecond)
	c := e.client(t, func(o *zoomrest.Options) { o.PageSize = 9 })
	rows, err := c.StatusHistory(ctxT(t), e.t0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	changes := e.g.StatusChanges()
	if len(changes) < 20 || len(rows) != len(changes) {
		t.Fatalf("E6 gave %d rows for %d status changes (want at least 20)", len(rows), len(changes))
	}
	kinds := map[string]bool{}
	for i, r := range rows {
		w := changes[i]
		if r.UserID != w.UserID || r.StatusName != w.Status || r.SubStatusName != w.SubStatus || ms(r.StartTime) != w.TS || r.OccupiedEngagementID != w.EngagementID {
			t.Fatalf("E6 row %d = %+v, want %+v", i, r, w)
		}
		kinds[r.StatusName+"/"+r.SubStatusName] = true
	}
	for _, k := range []string{"Ready/", "Occupied/Inbound", "Occupied/Wrapping up", "Offline/"} {
		if !kinds[k] {
			t.Errorf("no %s row in %v", k, kinds)
		}
	}
	users, err := c.Users(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	truth := e.g.AgentTruth()
	if len(users) != len(truth) {
		t.Fatalf("E7 gave %d users, %d agents", len(users), len(truth))
	}
	for _, u := range users {
		a := truth[u.UserID]
		if u.StatusName != a.Status || u.SubStatusName != a.SubStatus || (a.Status == sim.StatusOffline) == a.LoggedIn {
			t.Errorf("E7 %s = %s/%s, truth %+v", u.UserID, u.StatusName, u.SubStatusName, a)
		}
	}
}

// An expired next_page_token restarts the query: nothing lost, nothing twice.
func TestPageTokenExpiryRestarts(t *testing.T) {
	e := newEnv(t, 400, 50*time.Millisecond)
	e.s.SetREST(sim.RESTOptions{LightPerSecond: -1, MediumPerSecond: -1, HeavyPerSecond: -1, ExpirePageTokens: 1})
	c := e.client(t, func(o *zoomrest.Options) { o.PageSize = 5 })
	rows, err := c.StatusHistory(ctxT(t), e.t0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(e.g.StatusChanges()); len(rows) != n {
		t.Errorf("%d rows after a restart, want %d", len(rows), n)
	}
	if n := e.s.RESTCounts().ExpiredTokens; n != 1 {
		t.Errorf("%d tokens expired, want 1", n)
	}
}

// Zoom's analytics bug serves the first page again for a page token: the
// client does not loop; it queries again from the last row's time, so
// the rows still all come back.
func TestRepeatedPageStops(t *testing.T) {
	e := newEnv(t, 400, 300*time.Millisecond)
	e.s.SetREST(sim.RESTOptions{LightPerSecond: -1, MediumPerSecond: -1, HeavyPerSecond: -1, RepeatFirstPage: true})
	c := e.client(t, func(o *zoomrest.Options) { o.PageSize = 6 })
	rows, err := c.StatusHistory(ctxT(t), e.t0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	n := len(e.g.StatusChanges())
	counts := e.s.RESTCounts()
	if counts.RepeatedPages == 0 {
		t.Fatal("the simulator never repeated a page")
	}
	if len(rows) != n {
		t.Errorf("%d rows, want %d", len(rows), n)
	}
	if q := counts.Requests["status_history"]; q > 2*(n/6+2)+2 {
		t.Errorf("%d requests for %d rows at 6 a page: looping on the repeated page", q, n)
	}
	if !strings.Contains(e.log.String(), "served a page it served before") {
		t.Errorf("no warning about the repeated page in %s", e.log)
	}
}

// A per-second 429 (another app of the account spent the second) is
// waited out until X-RateLimit-Reset; alone, the client paces itself by
// X-RateLimit-Remaining and meets no 429.
func TestPerSecondRateLimit(t *testing.T) {
	e := newEnv(t, 100, 10*time.Millisecond)
	e.s.SetREST(sim.RESTOptions{HeavyPerSecond: 1, LightPerSecond: -1, MediumPerSecond: -1})
	other, c := e.client(t, nil), e.client(t, nil)
	// Start just past a second's turn, so both calls fall in one second.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 20*time.Millisecond)))
	if _, err := other.StatusHistory(ctxT(t), e.t0, time.Now()); err != nil {
		t.Fatal(err)
	}
	spent := time.Now().Unix()
	if _, err := c.StatusHistory(ctxT(t), e.t0, time.Now()); err != nil {
		t.Fatal(err)
	}
	if time.Now().Unix() <= spent {
		t.Errorf("the call after a 429 returned in the spent second")
	}
	if n := e.s.RESTCounts().RateLimited; n != 1 {
		t.Errorf("%d 429s, want 1: the client waits for X-RateLimit-Reset rather than retrying at once", n)
	}
	e.s.SetREST(sim.RESTOptions{HeavyPerSecond: 1, LightPerSecond: -1, MediumPerSecond: -1})
	for range 2 {
		if _, err := c.StatusHistory(ctxT(t), e.t0, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.s.RESTCounts().RateLimited; n != 0 {
		t.Errorf("%d 429s for a client alone: it does not pace itself by X-RateLimit-Remaining", n)
	}
}

// A daily 429 stops Heavy calls, without a request, until Retry-After;
// other categories go on.
func TestDailyLimitStopsHeavyCalls(t *testing.T) {
	e := newEnv(t, 100, 10*time.Millisecond)
	e.s.SetREST(sim.RESTOptions{HeavyPerDay: 1, DailyReset: 2 * time.Second, LightPerSecond: -1, MediumPerSecond: -1, HeavyPerSecond: -1})
	c := e.client(t, nil)
	if _, err := c.StatusHistory(ctxT(t), e.t0, time.Now()); err != nil {
		t.Fatal(err)
	}
	_, err := c.StatusHistory(ctxT(t), e.t0, time.Now())
	var dl *zoomrest.DailyLimitError
	if !errors.As(err, &dl) || !errors.Is(err, zoomrest.ErrDailyLimit) || dl.Category != "Heavy" || time.Until(dl.Until) <= 0 {
		t.Fatalf("err = %v, want a daily limit on Heavy about 2 s ahead", err)
	}
	before := e.s.RESTCounts()
	if _, err := c.StatusHistory(ctxT(t), e.t0, time.Now()); !errors.As(err, &dl) {
		t.Fatalf("err = %v, want the daily limit still", err)
	}
	if _, err := c.Users(ctxT(t)); err != nil {
		t.Fatalf("a Medium call during a Heavy daily stop: %v", err)
	}
	after := e.s.RESTCounts()
	if after.Requests["status_history"] != before.Requests["status_history"] || after.DailyLimited != before.DailyLimited {
		t.Errorf("a Heavy request went to Zoom during the daily stop: %+v then %+v", before, after)
	}
	time.Sleep(time.Until(dl.Until) + 50*time.Millisecond) // the stop lasts until a wall-clock time
	if _, err := c.StatusHistory(ctxT(t), e.t0, time.Now()); err != nil {
		t.Errorf("after Retry-After: %v", err)
	}
}

// The own budget spaces requests: 600 a minute is one each 100 ms.
func TestBudgetPerMinute(t *testing.T) {
	e := newEnv(t, 50, 10*time.Millisecond)
	reg := prometheus.NewRegistry()
	c := e.client(t, func(o *zoomrest.Options) { o.RequestsPerMinute = 600; o.Registerer = reg })
	t0 := time.Now()
	for range 6 {
		if _, err := c.Users(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(t0); d < 450*time.Millisecond {
		t.Errorf("6 requests at 600/min took %s, want at least 500ms", d)
	}
	if n := sum(t, reg, "zccingest_rest_wait_seconds_total"); n < 0.4 {
		t.Errorf("wait_seconds_total = %v", n)
	}
	if n, err := testutil.GatherAndCount(reg, "zccingest_rest_requests_total"); err != nil || n != 1 {
		t.Errorf("requests_total series = %d, %v; want one (users, 200)", n, err)
	}
}

// sum adds up the samples of a counter family.
func sum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	v := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				v += m.GetCounter().GetValue()
			}
		}
	}
	return v
}

// Requests carry from/to with an explicit +00:00 (encoded %2B): the
// simulator, like Zoom, reads a 'Z' time in the timezone (here New York),
// which would shift the window by hours.
func TestTimesCarryOffsets(t *testing.T) {
	e := newEnv(t, 600, 20*time.Millisecond)
	e.s.SetREST(sim.RESTOptions{Timezone: "America/New_York", LightPerSecond: -1, MediumPerSecond: -1, HeavyPerSecond: -1})
	var seen []string
	var mu sync.Mutex
	c := e.client(t, func(o *zoomrest.Options) {
		o.HTTPClient = &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			seen = append(seen, r.URL.RawQuery)
			mu.Unlock()
			return http.DefaultTransport.RoundTrip(r)
		})}
	})
	from, to := e.t0.Add(-time.Second), time.Now()
	rows, err := c.StatusHistory(ctxT(t), from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(e.g.StatusChanges()) || len(rows) == 0 {
		t.Errorf("%d rows, want %d", len(rows), len(e.g.StatusChanges()))
	}
	if len(seen) == 0 || !strings.Contains(seen[0], "%2B00%3A00") || strings.Contains(seen[0], "Z&") {
		t.Errorf("query %q: want from/to with an encoded +00:00", seen)
	}
	// The quirk itself: the same window written with 'Z' finds nothing.
	q := url.Values{"from": {from.UTC().Format("2006-01-02T15:04:05Z")}, "to": {to.UTC().Format("2006-01-02T15:04:05Z")}}
	req, _ := http.NewRequest(http.MethodGet, e.s.RESTURL()+"/contact_center/analytics/agents/status_history?"+q.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+e.tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		TotalRecords int `json:"total_records"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	if body.TotalRecords != 0 {
		t.Errorf("a 'Z' window read in New York found %d rows, want 0 (the quirk is not simulated)", body.TotalRecords)
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A window longer than a month is split: the simulator refuses more.
func TestLongWindowIsSplit(t *testing.T) {
	e := newEnv(t, 200, 10*time.Millisecond)
	c := e.client(t, nil)
	got, err := c.Engagements(ctxT(t), time.Now().Add(-70*24*time.Hour), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if n := e.s.RESTCounts().Requests["engagements"]; n < 3 {
		t.Errorf("%d requests for 70 days, want 3 or more", n)
	}
	completed := 0
	for _, en := range e.g.Engagements() {
		if en.Completed != 0 {
			completed++
		}
	}
	if len(got) != completed {
		t.Errorf("%d engagements, want %d", len(got), completed)
	}
}

// E1/E2 show an engagement only after the processing delay.
func TestProcessingDelay(t *testing.T) {
	e := newEnv(t, 200, 10*time.Millisecond)
	e.s.SetREST(sim.RESTOptions{ProcessingDelay: time.Hour, LightPerSecond: -1, MediumPerSecond: -1, HeavyPerSecond: -1})
	c := e.client(t, nil)
	var id string
	for _, en := range e.g.Engagements() {
		if en.Completed != 0 {
			id = en.EngagementID
		}
	}
	if _, err := c.Engagement(ctxT(t), id); !errors.Is(err, zoomrest.ErrNotFound) {
		t.Errorf("err = %v, want ErrNotFound while processing", err)
	}
	if got, err := c.Engagements(ctxT(t), e.t0, time.Now()); err != nil || len(got) != 0 {
		t.Errorf("E1 while processing: %d, %v", len(got), err)
	}
	e.s.SetREST(sim.RESTOptions{LightPerSecond: -1, MediumPerSecond: -1, HeavyPerSecond: -1})
	if d, err := c.Engagement(ctxT(t), id); err != nil || d.EngagementID != id {
		t.Errorf("after processing: %v", err)
	}
}

// A 401 invalidates the token and tries once more with a fresh one; a
// second 401 is an error.
func TestUnauthorizedInvalidatesOnce(t *testing.T) {
	e := newEnv(t, 50, 10*time.Millisecond)
	var mu sync.Mutex
	tok := "sim-access-stale"
	var invalidated []string
	c := e.client(t, func(o *zoomrest.Options) {
		o.Token = func(context.Context) (string, error) { mu.Lock(); defer mu.Unlock(); return tok, nil }
		o.Invalidate = func(s string) { mu.Lock(); defer mu.Unlock(); invalidated = append(invalidated, s); tok = e.tok }
	})
	if _, err := c.Users(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(invalidated, []string{"sim-access-stale"}) {
		t.Errorf("invalidated %v", invalidated)
	}
	bad := e.client(t, func(o *zoomrest.Options) {
		o.Token = func(context.Context) (string, error) { return "sim-access-never-valid", nil }
	})
	_, err := bad.Users(ctxT(t))
	var ae *zoomrest.APIError
	if !errors.As(err, &ae) || ae.Status != 401 {
		t.Errorf("err = %v, want a 401 APIError", err)
	}
	if n := e.s.RESTCounts().Unauthorized; n != 3 {
		t.Errorf("%d 401s, want 3 (one then a retry, two with a token never valid)", n)
	}
	if strings.Contains(err.Error(), "sim-access-") {
		t.Errorf("error carries the token: %v", err)
	}
}
