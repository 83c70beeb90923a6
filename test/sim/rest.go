package sim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RESTOptions shape the simulator's Contact Center REST endpoints. Zero
// values are Zoom's documented behaviour on a Pro plan.
type RESTOptions struct {
	// MaxPageSize is the largest page_size honoured; default 300. A request
	// without page_size gets 30.
	MaxPageSize int
	// Per-second request limits by rate-limit category, account-wide;
	// defaults 20, 10 and 5 (Pro). Negative: no limit.
	LightPerSecond, MediumPerSecond, HeavyPerSecond int
	// HeavyPerDay is the daily quota of Heavy requests; 0: none. Past it,
	// Heavy requests get a daily 429 whose Retry-After (an ISO-8601 time)
	// is DailyReset after the first refusal (default: the next midnight UTC).
	HeavyPerDay int
	DailyReset  time.Duration
	// ProcessingDelay is how long after its wrap-up ended an engagement
	// appears in E1 and E2. Engagements not yet wrapped up never appear.
	ProcessingDelay time.Duration
	// PageTokenTTL is how long a next_page_token lasts; default 15m.
	// ExpirePageTokens answers the next N tokens presented as expired.
	PageTokenTTL     time.Duration
	ExpirePageTokens int
	// Timezone is the default of the timezone parameter (IANA; default
	// UTC): a from/to written with a literal 'Z', or as a date, is read in
	// it (Zoom's 'Z' quirk); response times are written in it.
	Timezone string
	// RepeatFirstPage makes E6 (analytics) answer every next_page_token with
	// its first page again, as Zoom's analytics paging has been seen to.
	RepeatFirstPage bool
}

// RESTCounts is what the REST endpoints did.
type RESTCounts struct {
	Requests      map[string]int // by endpoint: engagements, engagement, recording_status, recordings, status_history, users
	RateLimited   int            // per-second 429s
	DailyLimited  int            // daily 429s
	ExpiredTokens int            // page tokens answered as expired
	RepeatedPages int            // first pages served again for a page token
	Unauthorized  int
}

// REST endpoint names (as RESTCounts and zoomrest's metrics name them) and
// their rate-limit categories.
var restEndpoints = map[string]string{
	"engagements": "Medium", "engagement": "Light", "recording_status": "Light",
	"recordings": "Medium", "status_history": "Heavy", "users": "Medium",
}

type restPage struct {
	query  string
	offset int
	issued time.Time
}

type restState struct {
	s          *Server
	mu         sync.Mutex
	opts       RESTOptions
	counts     RESTCounts
	pages      map[string]restPage
	second     int64
	perSecond  map[string]int
	heavyDay   int
	dailyUntil time.Time
}

// registerREST adds Zoom's Contact Center REST endpoints to mux, under /v2.
func registerREST(s *Server, mux *http.ServeMux) *restState {
	r := &restState{s: s, pages: map[string]restPage{}, perSecond: map[string]int{}, counts: RESTCounts{Requests: map[string]int{}}}
	mux.HandleFunc("GET /v2/contact_center/engagements", r.handle("engagements", r.engagements))
	mux.HandleFunc("GET /v2/contact_center/engagements/{id}", r.handle("engagement", r.engagement))
	mux.HandleFunc("GET /v2/contact_center/engagements/{id}/recordings/status", r.handle("recording_status", r.recordingStatus))
	mux.HandleFunc("GET /v2/contact_center/recordings", r.handle("recordings", r.recordings))
	mux.HandleFunc("GET /v2/contact_center/analytics/agents/status_history", r.handle("status_history", r.statusHistory))
	mux.HandleFunc("GET /v2/contact_center/users", r.handle("users", r.users))
	return r
}

// RESTURL is the base URL of the REST API (Zoom's https://api.zoom.us/v2).
func (s *Server) RESTURL() string { return "http://" + s.Addr() + "/v2" }

// SetREST sets the REST endpoints' behaviour; counts and quotas start anew.
func (s *Server) SetREST(opts RESTOptions) {
	r := s.rest
	r.mu.Lock()
	defer r.mu.Unlock()
	r.opts = opts
	r.counts = RESTCounts{Requests: map[string]int{}}
	r.heavyDay, r.dailyUntil = 0, time.Time{}
	clear(r.perSecond)
}

// RESTCounts returns what the REST endpoints did since the last SetREST.
func (s *Server) RESTCounts() RESTCounts {
	r := s.rest
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.counts
	c.Requests = make(map[string]int, len(r.counts.Requests))
	for k, v := range r.counts.Requests {
		c.Requests[k] = v
	}
	return c
}

func (r *restState) options() RESTOptions {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.opts
}

// restRequest is a request past authentication and rate limits.
type restRequest struct {
	w   http.ResponseWriter
	r   *http.Request
	q   url.Values
	loc *time.Location // the timezone times are read and written in
	now time.Time
}

func (r *restState) handle(name string, h func(*restRequest)) http.HandlerFunc {
	category := restEndpoints[name]
	return func(w http.ResponseWriter, req *http.Request) {
		if !r.s.bearerOK(req) {
			r.mu.Lock()
			r.counts.Unauthorized++
			r.mu.Unlock()
			zoomError(w, http.StatusUnauthorized, 124, "Invalid access token.")
			return
		}
		if r.limited(w, category) {
			return
		}
		r.mu.Lock()
		r.counts.Requests[name]++
		tz := r.opts.Timezone
		r.mu.Unlock()
		q := req.URL.Query()
		if v := q.Get("timezone"); v != "" {
			tz = v
		}
		loc := time.UTC
		if tz != "" {
			l, err := time.LoadLocation(tz)
			if err != nil {
				zoomError(w, http.StatusBadRequest, 300, "Invalid timezone.")
				return
			}
			loc = l
		}
		h(&restRequest{w: w, r: req, q: q, loc: loc, now: time.Now()})
	}
}

// limited applies the per-second limit of the category and the daily
// Heavy quota, writing Zoom's rate-limit headers; on a refusal it answers
// 429 and returns true.
func (r *restState) limited(w http.ResponseWriter, category string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	limit := map[string]int{"Light": r.opts.LightPerSecond, "Medium": r.opts.MediumPerSecond, "Heavy": r.opts.HeavyPerSecond}[category]
	if limit == 0 {
		limit = map[string]int{"Light": 20, "Medium": 10, "Heavy": 5}[category]
	}
	h := w.Header()
	h.Set("X-RateLimit-Category", category)
	if category == "Heavy" && r.opts.HeavyPerDay > 0 {
		if !r.dailyUntil.IsZero() && now.After(r.dailyUntil) {
			r.heavyDay, r.dailyUntil = 0, time.Time{}
		}
		if r.heavyDay >= r.opts.HeavyPerDay {
			if r.dailyUntil.IsZero() {
				// Retry-After is written to the second: the quota comes back
				// at a whole second, not before the time written.
				r.dailyUntil = now.Add(r.opts.DailyReset + time.Second - 1).Truncate(time.Second)
				if r.opts.DailyReset <= 0 {
					r.dailyUntil = now.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
				}
			}
			r.counts.DailyLimited++
			h.Set("X-RateLimit-Type", "Daily-limit")
			h.Set("X-RateLimit-Limit", strconv.Itoa(r.opts.HeavyPerDay))
			h.Set("X-RateLimit-Remaining", "0")
			h.Set("Retry-After", r.dailyUntil.UTC().Format("2006-01-02T15:04:05Z"))
			zoomError(w, http.StatusTooManyRequests, 429, "You have reached the maximum daily rate limit for this API. Refer to the response header for details on when you can make another request.")
			return true
		}
	}
	h.Set("X-RateLimit-Type", "QPS")
	if category == "Heavy" {
		r.heavyDay++ // a refused request does not count, one let through does
	}
	if limit < 0 {
		return false
	}
	if sec := now.Unix(); sec != r.second {
		r.second = sec
		clear(r.perSecond)
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	if r.perSecond[category] >= limit {
		r.counts.RateLimited++
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset", strconv.FormatInt(r.second+1, 10))
		if category == "Heavy" {
			r.heavyDay--
		}
		zoomError(w, http.StatusTooManyRequests, 429, "You have reached the maximum per-second rate limit for this API. Try again later.")
		return true
	}
	r.perSecond[category]++
	h.Set("X-RateLimit-Remaining", strconv.Itoa(limit-r.perSecond[category]))
	return false
}

// restTime reads a from/to value as Zoom does: a date or a time with a
// literal 'Z' in the request's timezone, a time with an offset as given.
func restTime(v string, loc *time.Location) (time.Time, error) {
	if t, err := time.ParseInLocation("2006-01-02", v, loc); err == nil {
		return t, nil
	}
	if s, ok := strings.CutSuffix(v, "Z"); ok {
		return time.ParseInLocation("2006-01-02T15:04:05", s, loc)
	}
	return time.Parse("2006-01-02T15:04:05-07:00", v)
}

// window reads from and to; without from, the last back of time.
func (q *restRequest) window(back time.Duration) (from, to time.Time, ok bool) {
	f, t := q.q.Get("from"), q.q.Get("to")
	if f == "" {
		return q.now.Add(-back), q.now, true
	}
	if t == "" {
		zoomError(q.w, http.StatusBadRequest, 300, "to is required when from is set.")
		return
	}
	from, err1 := restTime(f, q.loc)
	to, err2 := restTime(t, q.loc)
	if err1 != nil || err2 != nil || to.Before(from) {
		zoomError(q.w, http.StatusBadRequest, 300, "Invalid from or to.")
		return
	}
	if to.After(from.AddDate(0, 1, 0)) {
		zoomError(q.w, http.StatusBadRequest, 300, "The date range between from and to cannot exceed one month.")
		return
	}
	return from, to, true
}

func (q *restRequest) time(ms int64) string {
	if ms == 0 {
		return ""
	}
	return time.UnixMilli(ms).In(q.loc).Format("2006-01-02T15:04:05.000Z07:00")
}

func (q *restRequest) json(v any) {
	q.w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(q.w).Encode(v)
}

// page returns the slice [offset, end) of n items this request asks for,
// and the next_page_token to give; ok false when it answered an error.
func (r *restState) page(q *restRequest, name string, n int) (offset, end int, next string, ok bool) {
	opts := r.options()
	maxSize := opts.MaxPageSize
	if maxSize <= 0 {
		maxSize = 300
	}
	size := 30
	if v, err := strconv.Atoi(q.q.Get("page_size")); err == nil && v > 0 {
		size = min(v, maxSize)
	}
	qv := url.Values{}
	for k, v := range q.q {
		if k != "next_page_token" {
			qv[k] = v
		}
	}
	key := name + "?" + qv.Encode()
	r.mu.Lock()
	defer r.mu.Unlock()
	if tok := q.q.Get("next_page_token"); tok != "" {
		pg, known := r.pages[tok]
		ttl := r.opts.PageTokenTTL
		if ttl == 0 {
			ttl = 15 * time.Minute
		}
		expired := !known || pg.query != key || q.now.Sub(pg.issued) > ttl
		if !expired && r.opts.ExpirePageTokens > 0 {
			r.opts.ExpirePageTokens--
			expired = true
		}
		if expired {
			r.counts.ExpiredTokens++
			zoomError(q.w, http.StatusBadRequest, 300, "The next page token is invalid or expired.")
			return 0, 0, "", false
		}
		offset = pg.offset
		if name == "status_history" && r.opts.RepeatFirstPage && offset > 0 {
			r.counts.RepeatedPages++
			offset = 0
			end = min(size, n)
			next = randomID()
			r.pages[next] = restPage{query: key, offset: pg.offset, issued: q.now}
			return offset, end, next, true
		}
	}
	offset = min(offset, n)
	end = min(offset+size, n)
	if end < n {
		next = randomID()
		r.pages[next] = restPage{query: key, offset: end, issued: q.now}
	}
	return offset, end, next, true
}

// snapshot is the ground truth of every tracked generator, copied.
type snapshot struct {
	agents  []AgentTruth
	byID    map[string]AgentTruth
	changes []StatusChange
	engs    []*EngagementTruth
}

func (s *Server) snapshot() snapshot {
	sn := snapshot{byID: map[string]AgentTruth{}}
	for _, g := range s.generators() {
		t := g.truth
		t.mu.Lock()
		for _, id := range t.order {
			a := *t.agents[id]
			a.Engagements = slices.Clone(a.Engagements)
			sn.agents = append(sn.agents, a)
			sn.byID[id] = a
		}
		sn.changes = append(sn.changes, t.changes...)
		for _, id := range t.engList {
			e := t.engs[id].clone()
			e.objs = slices.Clone(t.engs[id].objs)
			sn.engs = append(sn.engs, &e)
		}
		t.mu.Unlock()
	}
	slices.SortStableFunc(sn.changes, func(a, b StatusChange) int { return int(a.TS - b.TS) })
	slices.SortStableFunc(sn.engs, func(a, b *EngagementTruth) int { return int(a.Started - b.Started) })
	return sn
}

// processed reports whether an engagement shows in E1 and E2 yet.
func (r *restState) processed(e *EngagementTruth, now time.Time) bool {
	return e.Completed != 0 && !now.Before(time.UnixMilli(e.Completed).Add(r.options().ProcessingDelay))
}

// everAgents are the users who answered or joined the engagement.
func everAgents(e *EngagementTruth) []string {
	var ids []string
	for i, ev := range e.Events {
		id := ""
		switch ev.Name {
		case "contact_center.engagement_user_answered":
			id = ev.UserID
		case "contact_center.engagement_conference_participant_joined":
			id = e.objs[i]["joining_participant"]
		}
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

func seconds(fromMS, toMS int64) int {
	if fromMS == 0 || toMS < fromMS {
		return 0
	}
	return int((toMS - fromMS + 500) / 1000)
}

func (q *restRequest) engagementJSON(e *EngagementTruth, sn snapshot) map[string]any {
	var agents, dispositions []map[string]any
	for _, id := range everAgents(e) {
		agents = append(agents, map[string]any{"user_id": id, "display_name": sn.byID[id].DisplayName})
	}
	for _, d := range e.Dispositions {
		dispositions = append(dispositions, map[string]any{"disposition_id": d[0], "disposition_name": d[1]})
	}
	transfers, wrapStart := 0, int64(0)
	for _, ev := range e.Events {
		switch ev.Name {
		case "contact_center.engagement_transfer_completed":
			transfers++
		case "contact_center.engagement_wrap_up_started":
			wrapStart = ev.TS
		}
	}
	return map[string]any{
		"engagement_id": e.EngagementID, "start_time": q.time(e.Started), "end_time": q.time(e.Ended),
		"duration": seconds(e.Started, e.Ended), "wrap_up_duration": seconds(wrapStart, e.Completed),
		"direction": e.Direction, "channels": []map[string]any{{"channel": e.Channel, "channel_source": ""}},
		"consumers": []map[string]any{{"consumer_id": e.ConsumerID, "consumer_display_name": e.ConsumerName, "consumer_number": e.ConsumerNumber}},
		"flows":     []map[string]any{{"flow_id": e.FlowID, "flow_name": e.FlowName}},
		"queues":    []map[string]any{{"queue_id": e.QueueID, "cc_queue_id": e.QueueID, "queue_name": e.QueueName}},
		"agents":    agents, "transfer_count": transfers, "dispositions": dispositions, "notes": []any{},
	}
}

// E1: engagements that started inside the window and have been processed.
func (r *restState) engagements(q *restRequest) {
	from, to, ok := q.window(24 * time.Hour)
	if !ok {
		return
	}
	sn := r.s.snapshot()
	var list []*EngagementTruth
	for _, e := range sn.engs {
		st := time.UnixMilli(e.Started)
		if e.Started != 0 && !st.Before(from) && !st.After(to) && r.processed(e, q.now) {
			list = append(list, e)
		}
	}
	off, end, next, ok := r.page(q, "engagements", len(list))
	if !ok {
		return
	}
	items := []map[string]any{}
	for _, e := range list[off:end] {
		items = append(items, q.engagementJSON(e, sn))
	}
	q.json(map[string]any{"timezone": q.loc.String(), "from": q.q.Get("from"), "to": q.q.Get("to"),
		"page_size": len(items), "next_page_token": next, "total_records": len(list), "engagements": items})
}

func (sn snapshot) find(id string) *EngagementTruth {
	for _, e := range sn.engs {
		if e.EngagementID == id {
			return e
		}
	}
	return nil
}

// E2: one processed engagement with its timeline.
func (r *restState) engagement(q *restRequest) {
	sn := r.s.snapshot()
	e := sn.find(q.r.PathValue("id"))
	if e == nil || !r.processed(e, q.now) {
		zoomError(q.w, http.StatusNotFound, 1001, "Engagement does not exist.")
		return
	}
	body := q.engagementJSON(e, sn)
	delete(body, "transfer_count")
	body["events"] = q.timeline(e, sn)
	q.json(body)
}

// timeline is E2's events[], in the vocabulary zoomrest's constants name.
func (q *restRequest) timeline(e *EngagementTruth, sn snapshot) []map[string]any {
	// until finds the first event named end after i, optionally for the
	// same participant, and gives its time.
	until := func(i int, end, key string) int64 {
		for j := i + 1; j < len(e.Events); j++ {
			if e.Events[j].Name != "contact_center."+end {
				continue
			}
			if key != "" {
				if e.objs[i][key] != e.objs[j][strings.Replace(key, "joining", "leaving", 1)] {
					continue
				}
			}
			return e.Events[j].TS
		}
		return 0
	}
	out := []map[string]any{}
	for i, ev := range e.Events {
		o := e.objs[i]
		item := map[string]any{"start_time": q.time(ev.TS), "duration": 0}
		switch ev.Name {
		case "contact_center.engagement_started":
			item["event_type"] = "Engagement Start"
			item["channel"], item["direction"], item["consumer_id"], item["flow_id"] = e.Channel, e.Direction, e.ConsumerID, e.FlowID
		case "contact_center.task_reservation_created":
			item["event_type"] = "Agent Offer"
			item["user_id"], item["queue_id"], item["cc_queue_id"] = o["assigned_user_id"], o["cc_queue_id"], o["cc_queue_id"]
		case "contact_center.engagement_user_answered":
			item["event_type"] = "Agent Accept"
			item["user_id"], item["user_display_name"], item["accept_type"] = ev.UserID, o["user_display_name"], "manual"
		case "contact_center.engagement_user_hold":
			item["event_type"] = "Hold"
			item["user_id"], item["duration"] = ev.UserID, seconds(ev.TS, until(i, "engagement_user_unhold", ""))
		case "contact_center.engagement_transfer_completed":
			item["event_type"] = "Transfer"
			item["user_id"], item["transfer_to_user_id"], item["transfer_type"] = ev.UserID, o["transfer_to_user_id"], o["transfer_type"]
			item["transfer_to_queue_id"] = o["transfer_to_cc_queue_id"]
		case "contact_center.engagement_conference_participant_joined":
			item["event_type"] = "Conference"
			item["user_id"], item["conference_type"], item["invitee_type"], item["invitee"] = ev.UserID, "warm", "Agent", o["joining_participant"]
			item["duration"] = seconds(ev.TS, until(i, "engagement_conference_participant_left", "joining_participant"))
		case "contact_center.engagement_monitor_started":
			item["event_type"] = "Monitor"
			item["supervisor_id"], item["supervisor_display_name"] = o["monitoring_user_id"], o["monitoring_user_display_name"]
			item["duration"] = seconds(ev.TS, until(i, "engagement_monitor_ended", ""))
		case "contact_center.engagement_wrap_up_started":
			item["event_type"] = "Wrap Up"
			item["user_id"], item["duration"] = ev.UserID, seconds(ev.TS, until(i, "engagement_wrap_up_ended", ""))
		case "contact_center.engagement_ended":
			item["event_type"] = "Engagement End"
		default:
			continue
		}
		out = append(out, item)
	}
	return out
}

// E4: every recording status change of the engagement, open or not.
func (r *restState) recordingStatus(q *restRequest) {
	e := r.s.snapshot().find(q.r.PathValue("id"))
	if e == nil {
		zoomError(q.w, http.StatusNotFound, 1001, "Engagement does not exist.")
		return
	}
	statuses := []map[string]any{}
	for _, c := range e.Recordings {
		statuses = append(statuses, map[string]any{"status": c.Status, "last_modified_time": q.time(c.TS)})
	}
	q.json(map[string]any{"engagement_id": e.EngagementID, "channel": e.Channel, "channel_source": "", "statuses": statuses})
}

// E5: completed recordings whose start (or end: query_date_type) is in the window.
func (r *restState) recordings(q *restRequest) {
	from, to, ok := q.window(30 * 24 * time.Hour)
	if !ok {
		return
	}
	byEnd := q.q.Get("query_date_type") == "recording_end_time"
	sn := r.s.snapshot()
	var list []*EngagementTruth
	for _, e := range sn.engs {
		at := e.RecordingStart
		if byEnd {
			at = e.RecordingEnd
		}
		if e.RecordingDone && !time.UnixMilli(at).Before(from) && !time.UnixMilli(at).After(to) {
			list = append(list, e)
		}
	}
	off, end, next, ok := r.page(q, "recordings", len(list))
	if !ok {
		return
	}
	items := []map[string]any{}
	for _, e := range list[off:end] {
		items = append(items, map[string]any{
			"recording_id": e.RecordingID, "engagement_id": e.EngagementID, "user_id": e.AnsweredBy,
			"queue_id": e.QueueID, "cc_queue_id": e.QueueID, "flow_id": e.FlowID,
			"recording_start_time": q.time(e.RecordingStart), "recording_end_time": q.time(e.RecordingEnd),
			"recording_duration": seconds(e.RecordingStart, e.RecordingEnd), "recording_type": "automatic",
			"channel": e.Channel, "direction": e.Direction,
			"download_url":   "https://zoom.invalid/v2/contact_center/recordings/" + e.RecordingID + "/download",
			"transcript_url": "",
		})
	}
	q.json(map[string]any{"from": q.q.Get("from"), "to": q.q.Get("to"), "page_size": len(items), "next_page_token": next, "recordings": items})
}

// E6: status rows that began inside the window; a row still in force has
// no end_time.
func (r *restState) statusHistory(q *restRequest) {
	from, to, ok := q.window(24 * time.Hour)
	if !ok {
		return
	}
	sn := r.s.snapshot()
	ends := make([]int64, len(sn.changes))
	last := map[string]int{}
	for i, c := range sn.changes {
		if j, ok := last[c.UserID]; ok {
			ends[j] = c.TS
		}
		last[c.UserID] = i
	}
	var rows []int
	for i, c := range sn.changes {
		if at := time.UnixMilli(c.TS); !at.Before(from) && !at.After(to) {
			rows = append(rows, i)
		}
	}
	off, end, next, ok := r.page(q, "status_history", len(rows))
	if !ok {
		return
	}
	items := []map[string]any{}
	for _, i := range rows[off:end] {
		c := sn.changes[i]
		items = append(items, map[string]any{
			"user_id": c.UserID, "display_name": c.DisplayName, "status_id": c.StatusID, "status_name": c.Status,
			"sub_status_id": c.SubStatusID, "sub_status_name": c.SubStatus,
			"start_time": q.time(c.TS), "end_time": q.time(ends[i]), "duration": seconds(c.TS, ends[i]),
			"occupied_engagement_id": c.EngagementID,
		})
	}
	q.json(map[string]any{"timezone": q.loc.String(), "from": q.q.Get("from"), "to": q.q.Get("to"),
		"page_size": len(items), "next_page_token": next, "total_records": len(rows), "statuses": items})
}

// E7: every agent with the current status.
func (r *restState) users(q *restRequest) {
	sn := r.s.snapshot()
	off, end, next, ok := r.page(q, "users", len(sn.agents))
	if !ok {
		return
	}
	items := []map[string]any{}
	for _, a := range sn.agents[off:end] {
		items = append(items, map[string]any{
			"user_id": a.UserID, "cc_user_id": "cc-" + a.UserID, "display_name": a.DisplayName, "user_email": a.Email,
			"status_id": a.StatusID, "status_name": a.Status, "sub_status_id": a.SubStatusID, "sub_status_name": a.SubStatus,
			"user_access": "active", "last_modified_time": q.time(a.Since),
		})
	}
	q.json(map[string]any{"page_size": len(items), "next_page_token": next, "total_records": len(sn.agents), "users": items})
}
