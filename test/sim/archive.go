package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// An ArchiveFile is one archived file the simulator lists and serves. Its
// content is Size bytes generated from ID, so a 1 GiB file costs no memory.
type ArchiveFile struct {
	MeetingUUID   string
	MeetingID     int64
	Topic         string
	ID            string
	FileType      string // default MP4
	FileExtension string // default MP4
	RecordingType string // default shared_screen_with_speaker_view
	Size          int64
	CompleteTime  time.Time // the meeting's archive complete time
	Status        string    // default completed
	// NoFingerprint leaves encryption_fingerprint out.
	NoFingerprint bool
}

// ArchiveFaults are the archive endpoints' failures on demand.
type ArchiveFaults struct {
	// BreakEvery breaks every Nth download halfway through the file.
	BreakEvery int
	// TruncateEvery ends every Nth download cleanly halfway, without a
	// Content-Length (as a proxy that drops a body might); CorruptEvery
	// flips a byte of every Nth download of a file listed with its
	// fingerprint (without one, a flipped byte cannot be told).
	TruncateEvery, CorruptEvery int
	// StallNext makes the next N downloads send half the file, then
	// nothing, without closing, until the client goes.
	StallNext int
	// RateLimitEvery answers every Nth archive request (list or download)
	// with 429 and Retry-After: RetryAfter seconds.
	RateLimitEvery int
	RetryAfter     int
	// BytesPerSecond slows downloads to this rate; 0 is full speed.
	BytesPerSecond int
	// PageTokenTTL is how long a next_page_token lasts; default 15m.
	PageTokenTTL time.Duration
	// ExpirePageTokens answers the next N page tokens presented as expired.
	ExpirePageTokens int
}

// ArchiveCounts is what the archive endpoints did.
type ArchiveCounts struct {
	ListRequests, RateLimited, Broken, Truncated, Corrupted, Stalled, ExpiredTokens int
}

type archivePage struct {
	query  string
	offset int
	issued time.Time
}

type archiveState struct {
	mu        sync.Mutex
	files     map[string]*ArchiveFile
	sums      map[string]string
	faults    ArchiveFaults
	requests  int
	downloads int
	counts    ArchiveCounts
	pages     map[string]archivePage
	started   map[string]int
	completed map[string]int
}

// registerArchive adds Zoom's archive endpoints to mux:
// GET /v2/archive_files and GET /rec/archive/download/{id}.
func registerArchive(s *Server, mux *http.ServeMux) *archiveState {
	a := &archiveState{
		files: map[string]*ArchiveFile{}, sums: map[string]string{}, pages: map[string]archivePage{},
		started: map[string]int{}, completed: map[string]int{},
	}
	mux.HandleFunc("GET /v2/archive_files", func(w http.ResponseWriter, r *http.Request) { a.handleList(s, w, r) })
	mux.HandleFunc("GET /rec/archive/download/{id}", func(w http.ResponseWriter, r *http.Request) { a.handleDownload(s, w, r) })
	return a
}

// ArchiveAPIURL is the base URL of the archive API (Zoom's https://api.zoom.us/v2).
func (s *Server) ArchiveAPIURL() string { return "http://" + s.Addr() + "/v2" }

// AddArchiveFile makes f listed and downloadable; it returns the content's
// SHA-256 (hex), which the list gives as encryption_fingerprint.
func (s *Server) AddArchiveFile(f ArchiveFile) string {
	if f.FileType == "" {
		f.FileType = "MP4"
	}
	if f.FileExtension == "" {
		f.FileExtension = "MP4"
	}
	if f.RecordingType == "" {
		f.RecordingType = "shared_screen_with_speaker_view"
	}
	if f.Status == "" {
		f.Status = "completed"
	}
	h := sha256.New()
	io.Copy(h, ArchiveContent(f.ID, f.Size))
	sum := hex.EncodeToString(h.Sum(nil))
	a := s.arch
	a.mu.Lock()
	a.files[f.ID] = &f
	a.sums[f.ID] = sum
	a.mu.Unlock()
	return sum
}

// SetArchiveFileStatus changes a file's status (processing, completed, failed).
func (s *Server) SetArchiveFileStatus(id, status string) {
	a := s.arch
	a.mu.Lock()
	if f := a.files[id]; f != nil {
		f.Status = status
	}
	a.mu.Unlock()
}

// SetArchiveFaults sets the archive endpoints' failures.
func (s *Server) SetArchiveFaults(f ArchiveFaults) {
	s.arch.mu.Lock()
	s.arch.faults = f
	s.arch.mu.Unlock()
}

// ArchiveDownloads returns, by file id, the downloads started and those
// whose every byte was written.
func (s *Server) ArchiveDownloads() (started, completed map[string]int) {
	a := s.arch
	a.mu.Lock()
	defer a.mu.Unlock()
	started, completed = map[string]int{}, map[string]int{}
	for k, v := range a.started {
		started[k] = v
	}
	for k, v := range a.completed {
		completed[k] = v
	}
	return started, completed
}

// ArchiveCounts returns what the archive endpoints did so far.
func (s *Server) ArchiveCounts() ArchiveCounts {
	s.arch.mu.Lock()
	defer s.arch.mu.Unlock()
	return s.arch.counts
}

// ArchiveContent is the content of file id: size bytes from a generator
// seeded with the id.
func ArchiveContent(id string, size int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8(sha256.Sum256([]byte(id))), size)
}

func (s *Server) bearerOK(r *http.Request) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	s.mu.Lock()
	expiry, known := s.tokens[token]
	s.mu.Unlock()
	return known && time.Now().Before(expiry)
}

func zoomError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg})
}

// rateLimited counts a request and answers 429 when the fault says so.
func (a *archiveState) rateLimited(w http.ResponseWriter) bool {
	a.mu.Lock()
	a.requests++
	f := a.faults
	hit := f.RateLimitEvery > 0 && a.requests%f.RateLimitEvery == 0
	if hit {
		a.counts.RateLimited++
	}
	a.mu.Unlock()
	w.Header().Set("X-RateLimit-Category", "Medium")
	w.Header().Set("X-RateLimit-Type", "QPS")
	if !hit {
		return false
	}
	w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	zoomError(w, http.StatusTooManyRequests, 429, "You have reached the maximum per-second rate limit for this API. Try again later.")
	return true
}

func (a *archiveState) handleList(s *Server, w http.ResponseWriter, r *http.Request) {
	if !s.bearerOK(r) {
		zoomError(w, http.StatusUnauthorized, 124, "Invalid access token.")
		return
	}
	if a.rateLimited(w) {
		return
	}
	q := r.URL.Query()
	from, err1 := time.Parse(time.RFC3339, q.Get("from"))
	to, err2 := time.Parse(time.RFC3339, q.Get("to"))
	if err1 != nil || err2 != nil || to.Before(from) {
		zoomError(w, http.StatusBadRequest, 300, "Invalid from or to.")
		return
	}
	if to.Sub(from) > 7*24*time.Hour {
		zoomError(w, http.StatusBadRequest, 300, "The date range between from and to cannot exceed 7 days.")
		return
	}
	size := 30
	if v, err := strconv.Atoi(q.Get("page_size")); err == nil && v > 0 {
		size = min(v, 300)
	}
	query := q.Get("from") + "|" + q.Get("to") + "|" + q.Get("query_date_type") + "|" + strconv.Itoa(size)

	a.mu.Lock()
	a.counts.ListRequests++
	offset := 0
	if tok := q.Get("next_page_token"); tok != "" {
		pg, ok := a.pages[tok]
		ttl := a.faults.PageTokenTTL
		if ttl == 0 {
			ttl = 15 * time.Minute
		}
		expired := !ok || pg.query != query || time.Since(pg.issued) > ttl
		if !expired && a.faults.ExpirePageTokens > 0 {
			a.faults.ExpirePageTokens--
			expired = true
		}
		if expired {
			a.counts.ExpiredTokens++
			a.mu.Unlock()
			zoomError(w, http.StatusBadRequest, 300, "The next page token is invalid or expired.")
			return
		}
		offset = pg.offset
	}
	// Meetings in the window, by complete time then uuid.
	byMeeting := map[string][]*ArchiveFile{}
	var uuids []string
	for _, f := range a.files {
		if f.CompleteTime.Before(from) || f.CompleteTime.After(to) {
			continue
		}
		if _, ok := byMeeting[f.MeetingUUID]; !ok {
			uuids = append(uuids, f.MeetingUUID)
		}
		byMeeting[f.MeetingUUID] = append(byMeeting[f.MeetingUUID], f)
	}
	slices.SortFunc(uuids, func(x, y string) int {
		if c := byMeeting[x][0].CompleteTime.Compare(byMeeting[y][0].CompleteTime); c != 0 {
			return c
		}
		return strings.Compare(x, y)
	})
	end := min(offset+size, len(uuids))
	host := r.Host
	meetings := []map[string]any{}
	for _, uuid := range uuids[min(offset, len(uuids)):end] {
		fs := byMeeting[uuid]
		slices.SortFunc(fs, func(x, y *ArchiveFile) int { return strings.Compare(x.ID, y.ID) })
		var files []map[string]any
		var total int64
		for _, f := range fs {
			total += f.Size
			file := map[string]any{
				"id": f.ID, "file_type": f.FileType, "file_extension": f.FileExtension, "file_size": f.Size,
				"download_url": "http://" + host + "/rec/archive/download/" + f.ID,
				"status":       f.Status, "recording_type": f.RecordingType, "individual": false,
				"participant_join_time":  f.CompleteTime.Add(-time.Hour).UTC().Format(time.RFC3339),
				"participant_leave_time": f.CompleteTime.UTC().Format(time.RFC3339),
			}
			if !f.NoFingerprint {
				file["encryption_fingerprint"] = a.sums[f.ID]
			}
			files = append(files, file)
		}
		f0 := fs[0]
		meetings = append(meetings, map[string]any{
			"uuid": uuid, "id": f0.MeetingID, "host_id": "simhost", "topic": f0.Topic, "type": 2,
			"start_time": f0.CompleteTime.Add(-time.Hour).UTC().Format(time.RFC3339),
			"timezone":   "UTC", "duration": 60, "total_size": total, "recording_count": len(files),
			"meeting_type": "internal", "account_name": "Sim account", "complete_time": f0.CompleteTime.UTC().Format(time.RFC3339),
			"is_breakout_room": false, "status": "completed", "archive_files": files,
		})
	}
	next := ""
	if end < len(uuids) {
		next = randomID()
		a.pages[next] = archivePage{query: query, offset: end, issued: time.Now()}
	}
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"from": q.Get("from"), "to": q.Get("to"), "page_size": size, "next_page_token": next,
		"total_records": len(uuids), "meetings": meetings,
	})
}

func (a *archiveState) handleDownload(s *Server, w http.ResponseWriter, r *http.Request) {
	if !s.bearerOK(r) {
		zoomError(w, http.StatusUnauthorized, 124, "Invalid access token.")
		return
	}
	if a.rateLimited(w) {
		return
	}
	id := r.PathValue("id")
	a.mu.Lock()
	f := a.files[id]
	var brk, trunc, corrupt, stall bool
	var rate int
	if f != nil {
		a.downloads++
		a.started[id]++
		brk = a.faults.BreakEvery > 0 && a.downloads%a.faults.BreakEvery == 0
		trunc = !brk && a.faults.TruncateEvery > 0 && a.downloads%a.faults.TruncateEvery == 0
		corrupt = !brk && !trunc && a.faults.CorruptEvery > 0 && a.downloads%a.faults.CorruptEvery == 0 && f.Size > 0 && !f.NoFingerprint
		stall = !brk && !trunc && !corrupt && a.faults.StallNext > 0
		switch {
		case stall:
			a.faults.StallNext--
			a.counts.Stalled++
		case brk:
			a.counts.Broken++
		case trunc:
			a.counts.Truncated++
		case corrupt:
			a.counts.Corrupted++
		}
		rate = a.faults.BytesPerSecond
	}
	a.mu.Unlock()
	if f == nil {
		zoomError(w, http.StatusNotFound, 3301, "This recording does not exist.")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if !trunc {
		w.Header().Set("Content-Length", strconv.FormatInt(f.Size, 10))
	}
	src := ArchiveContent(f.ID, f.Size)
	limit := f.Size
	if brk || trunc || stall {
		limit = f.Size / 2
	}
	buf := make([]byte, 32<<10)
	var sent int64
	rc := http.NewResponseController(w)
	for sent < limit {
		n, _ := src.Read(buf[:min(int64(len(buf)), limit-sent)])
		if corrupt && sent == 0 && n > 0 {
			buf[0] ^= 0xff
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return
		}
		sent += int64(n)
		if rate > 0 {
			time.Sleep(time.Duration(float64(n) / float64(rate) * float64(time.Second)))
		}
	}
	if stall {
		rc.Flush()
		<-r.Context().Done()
		return
	}
	if brk {
		rc.Flush()
		// The server closes the connection mid-body: the client reads a
		// short body, as when a connection breaks.
		panic(http.ErrAbortHandler)
	}
	if !trunc && !corrupt {
		a.mu.Lock()
		a.completed[id]++
		a.mu.Unlock()
	}
}
