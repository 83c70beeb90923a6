package zoomrest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"
)

var jsonUnmarshal = json.Unmarshal

// Engagements lists the processed engagements of the window (E1). Which
// time Zoom filters on is not documented: widen the window, and dedupe by
// EngagementID (this method does, across the month-long pieces).
func (c *Client) Engagements(ctx context.Context, from, to time.Time) ([]Engagement, error) {
	return windowed(ctx, c, epEngagements, "/contact_center/engagements", "engagements", from, to, 100,
		func(e Engagement) string { return e.EngagementID }, nil)
}

// Engagement returns one engagement and its timeline (E2). It is
// ErrNotFound until Zoom has processed the ended engagement, and for an
// engagement still in progress.
func (c *Client) Engagement(ctx context.Context, id string) (*EngagementDetail, error) {
	if err := checkID(id); err != nil {
		return nil, fmt.Errorf("zoomrest: %s: %w", epEngagement, err)
	}
	body, err := c.get(ctx, epEngagement, "/contact_center/engagements/"+url.PathEscape(id), nil)
	if err != nil {
		return nil, err
	}
	var d EngagementDetail
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, fmt.Errorf("zoomrest: %s: decoding the response: %w", epEngagement, err)
	}
	return &d, nil
}

// RecordingStatus returns the engagement's recording status changes (E4).
func (c *Client) RecordingStatus(ctx context.Context, engagementID string) (*RecordingStatus, error) {
	if err := checkID(engagementID); err != nil {
		return nil, fmt.Errorf("zoomrest: %s: %w", epRecordingStatus, err)
	}
	body, err := c.get(ctx, epRecordingStatus, "/contact_center/engagements/"+url.PathEscape(engagementID)+"/recordings/status", nil)
	if err != nil {
		return nil, err
	}
	var r RecordingStatus
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("zoomrest: %s: decoding the response: %w", epRecordingStatus, err)
	}
	return &r, nil
}

// Recordings lists the recordings that started inside the window (E5).
func (c *Client) Recordings(ctx context.Context, from, to time.Time) ([]Recording, error) {
	return windowed(ctx, c, epRecordings, "/contact_center/recordings", "recordings", from, to, 300,
		func(r Recording) string { return r.RecordingID }, url.Values{"query_date_type": {"recording_start_time"}})
}

// StatusHistory lists the agent status rows that began inside the window
// (E6, a Heavy call). When Zoom's analytics paging serves its first page
// again, the query goes on from the last row's time instead of looping.
func (c *Client) StatusHistory(ctx context.Context, from, to time.Time) ([]AgentStatus, error) {
	return windowed(ctx, c, epStatusHistory, "/contact_center/analytics/agents/status_history", "statuses", from, to, 100,
		statusKey, nil)
}

func statusKey(a AgentStatus) string {
	return a.UserID + "|" + a.StartTime.UTC().Format(time.RFC3339Nano) + "|" + a.StatusID + "|" + a.SubStatusID
}

// Users lists the Contact Center users with their status now (E7).
func (c *Client) Users(ctx context.Context) ([]User, error) {
	out, _, err := list(ctx, c, epUsers, "/contact_center/users", "users", url.Values{}, 300,
		func(u User) string { return u.UserID })
	return dedupe(out, func(u User) string { return u.UserID }), err
}

func checkID(id string) error {
	if id == "" || len(id) > maxIDLen {
		return fmt.Errorf("engagement id of %d bytes", len(id))
	}
	return nil
}

// zoomTime writes a time as Zoom reads it exactly: seconds, explicit
// +00:00 (a 'Z' would be read in the request's timezone).
func zoomTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05-07:00") }

// windowed lists [from, to] in pieces of at most maxRangeDays, with from
// rounded down and to up to whole seconds, and dedupes across pieces.
func windowed[T any](ctx context.Context, c *Client, endpoint, path, field string, from, to time.Time, size int, key func(T) string, extra url.Values) ([]T, error) {
	if to.Before(from) {
		return nil, fmt.Errorf("zoomrest: %s: window ends (%s) before it starts (%s)", endpoint, zoomTime(to), zoomTime(from))
	}
	from = from.Truncate(time.Second)
	if t := to.Truncate(time.Second); t.Before(to) {
		to = t.Add(time.Second)
	}
	var out []T
	for start := from; ; {
		end := start.Add(maxRangeDays * 24 * time.Hour)
		if end.After(to) {
			end = to
		}
		got, err := resumable(ctx, c, endpoint, path, field, start, end, size, key, extra)
		out = append(out, got...)
		if err != nil {
			return dedupe(out, key), err
		}
		if !end.Before(to) {
			return dedupe(out, key), nil
		}
		start = end
	}
}

// resumable lists one piece; for status history, a repeated page makes it
// query again from the last row's time (rows come in time order), as long
// as that moves forward.
func resumable[T any](ctx context.Context, c *Client, endpoint, path, field string, from, to time.Time, size int, key func(T) string, extra url.Values) ([]T, error) {
	var out []T
	for {
		q := url.Values{"from": {zoomTime(from)}, "to": {zoomTime(to)}}
		for k, v := range extra {
			q[k] = v
		}
		got, repeated, err := list(ctx, c, endpoint, path, field, q, size, key)
		out = append(out, got...)
		if err != nil || !repeated || endpoint != epStatusHistory {
			return out, err
		}
		rows := any(got).([]AgentStatus)
		if len(rows) == 0 || !slices.IsSortedFunc(rows, func(a, b AgentStatus) int { return a.StartTime.Compare(b.StartTime) }) {
			c.opts.Logger.Warn().Str("endpoint", endpoint).Msg("Zoom served a page again and its rows are not in time order; some rows of the window may be missing")
			return out, nil
		}
		next := rows[len(rows)-1].StartTime.Truncate(time.Second)
		if !next.After(from) {
			c.opts.Logger.Warn().Str("endpoint", endpoint).Msg("Zoom served a page again and a second of rows fills more than a page; some rows of the window may be missing")
			return out, nil
		}
		from = next
	}
}

// list follows every page of one query. A next_page_token Zoom calls
// expired restarts the query (up to maxRestarts); a page Zoom served
// before (same first item, or a token seen before) ends it, repeated true.
func list[T any](ctx context.Context, c *Client, endpoint, path, field string, q url.Values, size int, key func(T) string) (out []T, repeated bool, err error) {
	if c.opts.PageSize > 0 {
		size = c.opts.PageSize
	}
	restarts := 0
restart:
	out = out[:0]
	firsts, tokens := map[string]bool{}, map[string]bool{}
	token := ""
	for page := 1; ; page++ {
		if page > c.opts.MaxPages {
			return out, false, fmt.Errorf("zoomrest: %s: more than %d pages; narrow the window", endpoint, c.opts.MaxPages)
		}
		pq := url.Values{}
		for k, v := range q {
			pq[k] = v
		}
		pq.Set("page_size", strconv.Itoa(size))
		if token != "" {
			pq.Set("next_page_token", token)
		}
		body, err := c.get(ctx, endpoint, path, pq)
		if errors.Is(err, errPageTokenExpired) && token != "" && restarts < maxRestarts {
			restarts++
			c.opts.Logger.Warn().Str("endpoint", endpoint).Int("page", page).Msg("Zoom's next_page_token expired; listing the window again")
			goto restart
		}
		if err != nil {
			return out, false, err
		}
		items, next, err := decodePage[T](body, field)
		if err != nil {
			return out, false, fmt.Errorf("zoomrest: %s: page %d: %w", endpoint, page, err)
		}
		if len(items) > 0 {
			k := key(items[0])
			if firsts[k] {
				c.opts.Logger.Warn().Str("endpoint", endpoint).Int("page", page).Msg("Zoom served a page it served before; stopping this query")
				return out, true, nil
			}
			firsts[k] = true
		}
		out = append(out, items...)
		if next == "" || len(items) == 0 {
			return out, false, nil
		}
		if tokens[next] {
			c.opts.Logger.Warn().Str("endpoint", endpoint).Int("page", page).Msg("Zoom gave a page token it gave before; stopping this query")
			return out, true, nil
		}
		tokens[next] = true
		token = next
	}
}

func dedupe[T any](items []T, key func(T) string) []T {
	seen := make(map[string]bool, len(items))
	out := items[:0]
	for _, it := range items {
		k := key(it)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, it)
	}
	return out
}
