package sim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

func restGet(t *testing.T, s *Server, tok, path string, q url.Values) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctxT(t), http.MethodGet, s.RESTURL()+path+"?"+q.Encode(), nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp, body
}

// The REST endpoints answer as Zoom's do: bearer token, rate-limit
// headers, 429s of both kinds, window rules, page tokens bound to their query.
func TestRESTShape(t *testing.T) {
	s := start(t, Options{})
	g := NewGenerator(5, "acct", 4)
	s.Track(g)
	for range 300 {
		g.Next()
	}
	tok := token(t, s)
	const users = "/contact_center/users"
	if resp, _ := restGet(t, s, "", users, nil); resp.StatusCode != 401 {
		t.Errorf("no token: %d", resp.StatusCode)
	}
	s.SetREST(RESTOptions{MediumPerSecond: 2, HeavyPerDay: 1, DailyReset: time.Hour})
	// Past a second's turn, so the three calls fall in one second.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 10*time.Millisecond)))
	resp, body := restGet(t, s, tok, users, url.Values{"page_size": {"3"}})
	if h := resp.Header; resp.StatusCode != 200 || h.Get("X-RateLimit-Category") != "Medium" || h.Get("X-RateLimit-Type") != "QPS" ||
		h.Get("X-RateLimit-Limit") != "2" || h.Get("X-RateLimit-Remaining") != "1" {
		t.Errorf("first call: %d %v", resp.StatusCode, h)
	}
	if n, _ := body["total_records"].(float64); n != 4 || len(body["users"].([]any)) != 3 || body["next_page_token"] == "" {
		t.Errorf("users page: %v", body)
	}
	restGet(t, s, tok, users, nil)
	resp, _ = restGet(t, s, tok, users, nil)
	if reset, _ := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); resp.StatusCode != 429 || reset <= time.Now().Unix()-1 {
		t.Errorf("third call in a second of 2: %d reset %q", resp.StatusCode, resp.Header.Get("X-RateLimit-Reset"))
	}
	const history = "/contact_center/analytics/agents/status_history"
	if resp, _ := restGet(t, s, tok, history, nil); resp.StatusCode != 200 || resp.Header.Get("X-RateLimit-Category") != "Heavy" {
		t.Errorf("first Heavy call: %d", resp.StatusCode)
	}
	resp, _ = restGet(t, s, tok, history, nil)
	until, err := time.Parse(time.RFC3339, resp.Header.Get("Retry-After"))
	if resp.StatusCode != 429 || resp.Header.Get("X-RateLimit-Type") != "Daily-limit" || err != nil || time.Until(until) < 59*time.Minute {
		t.Errorf("Heavy past the daily quota: %d %v", resp.StatusCode, resp.Header)
	}
	s.SetREST(RESTOptions{})
	now := time.Now().UTC()
	for _, q := range []url.Values{
		{"from": {now.Add(-32 * 24 * time.Hour).Format(time.RFC3339)}, "to": {now.Format(time.RFC3339)}},
		{"from": {now.Format(time.RFC3339)}},
		{"from": {"yesterday"}, "to": {"today"}},
		{"from": {now.Format(time.RFC3339)}, "to": {now.Add(-time.Hour).Format(time.RFC3339)}},
	} {
		if resp, _ := restGet(t, s, tok, "/contact_center/engagements", q); resp.StatusCode != 400 {
			t.Errorf("%v: %d, want 400", q, resp.StatusCode)
		}
	}
	_, body = restGet(t, s, tok, users, url.Values{"page_size": {"2"}})
	next := body["next_page_token"].(string)
	if resp, _ := restGet(t, s, tok, users, url.Values{"page_size": {"3"}, "next_page_token": {next}}); resp.StatusCode != 400 {
		t.Errorf("a token with another query: %d, want 400", resp.StatusCode)
	}
	if resp, _ := restGet(t, s, tok, users, url.Values{"page_size": {"2"}, "next_page_token": {next}}); resp.StatusCode != 200 {
		t.Errorf("the token with its query: %d", resp.StatusCode)
	}
	if resp, _ := restGet(t, s, tok, "/contact_center/engagements/nosuch/recordings/status", nil); resp.StatusCode != 404 {
		t.Errorf("unknown engagement: %d", resp.StatusCode)
	}
}
