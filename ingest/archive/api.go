package archive

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// The list response of GET /archive_files, as far as the poller relies on it
// (testdata/README.md names the sources). Every field is optional in Zoom's
// spec; DecodeList checks what the poller needs.
type ListResponse struct {
	From          string    `json:"from"`
	To            string    `json:"to"`
	PageSize      int       `json:"page_size"`
	NextPageToken string    `json:"next_page_token"`
	TotalRecords  int       `json:"total_records"`
	Meetings      []Meeting `json:"meetings"`
}

// A Meeting is a meeting or webinar with its archived files.
type Meeting struct {
	UUID           string `json:"uuid"`
	ID             int64  `json:"id"`
	HostID         string `json:"host_id"`
	Topic          string `json:"topic"`
	Type           int    `json:"type"`
	StartTime      string `json:"start_time"`
	Timezone       string `json:"timezone"`
	Duration       int    `json:"duration"`
	TotalSize      int64  `json:"total_size"`
	RecordingCount int    `json:"recording_count"`
	MeetingType    string `json:"meeting_type"` // "internal" or "external"
	AccountName    string `json:"account_name"`
	CompleteTime   string `json:"complete_time"`
	IsBreakoutRoom bool   `json:"is_breakout_room"`
	ParentMeeting  string `json:"parent_meeting_id"`
	Status         string `json:"status"`
	Files          []File `json:"archive_files"`
}

// A File is one archived file.
type File struct {
	ID            string `json:"id"`
	FileType      string `json:"file_type"`      // MP4, M4A, CHAT, CC, CHAT_MESSAGE, TRANSCRIPT, ...
	FileExtension string `json:"file_extension"` // MP4, M4A, TXT, VTT, JSON, ...
	FileSize      int64  `json:"file_size"`
	DownloadURL   string `json:"download_url"`
	FilePath      string `json:"file_path"` // on-premise accounts only, instead of download_url
	Status        string `json:"status"`    // completed, processing, failed
	RecordingType string `json:"recording_type"`
	Individual    bool   `json:"individual"`
	// EncryptionFingerprint is "the archived file's encryption
	// fingerprint, using the SHA256 hash algorithm".
	EncryptionFingerprint string `json:"encryption_fingerprint"`
	ParticipantEmail      string `json:"participant_email"`
	ParticipantJoinTime   string `json:"participant_join_time"`
	ParticipantLeaveTime  string `json:"participant_leave_time"`
	StorageLocation       string `json:"storage_location"`
}

// Bounds on what Zoom sends, before any of it becomes a key, an object name
// or an allocation.
const (
	MaxListBody     = 32 << 20 // one page of the list response
	MaxMeetings     = 1000     // per page; Zoom's page_size is at most 300
	MaxFilesPerMeet = 1000
	maxIDLen        = 256
	maxTextLen      = 4096 // topic, URLs and the like
	// MaxFileSize bounds one archived file: 1 TiB is far beyond any
	// recording, and keeps a hostile size from overflowing anything.
	MaxFileSize = 1 << 40
)

var (
	hexSHA256 = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	extRE     = regexp.MustCompile(`^[A-Za-z0-9]{1,16}$`)
)

// DecodeList decodes one page of GET /archive_files. A page that is not
// JSON, or too large, is an error; a file entry the poller cannot use is
// reported by File.Problem, not here, so that one bad entry holds only
// itself back.
func DecodeList(data []byte) (*ListResponse, error) {
	if len(data) > MaxListBody {
		return nil, fmt.Errorf("archive: list response of %d bytes exceeds %d", len(data), MaxListBody)
	}
	var r ListResponse
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("archive: decoding the archive_files list: %w", err)
	}
	if len(r.Meetings) > MaxMeetings {
		return nil, fmt.Errorf("archive: list page holds %d meetings, more than %d", len(r.Meetings), MaxMeetings)
	}
	for i := range r.Meetings {
		m := &r.Meetings[i]
		if len(m.Files) > MaxFilesPerMeet {
			return nil, fmt.Errorf("archive: meeting %q lists %d files, more than %d", clip(m.UUID), len(m.Files), MaxFilesPerMeet)
		}
		if m.UUID == "" || len(m.UUID) > maxIDLen {
			return nil, fmt.Errorf("archive: meetings[%d]: uuid missing or longer than %d bytes", i, maxIDLen)
		}
		m.Topic = clip(m.Topic)
	}
	if len(r.NextPageToken) > maxTextLen {
		return nil, errors.New("archive: next_page_token is implausibly long")
	}
	return &r, nil
}

// Problem says why the poller cannot fetch f, or "" if it can.
func (f *File) Problem() string {
	switch {
	case f.ID == "" || len(f.ID) > maxIDLen:
		return "file id missing or too long"
	case f.FileSize < 0 || f.FileSize > MaxFileSize:
		return fmt.Sprintf("file_size %d out of range", f.FileSize)
	case f.DownloadURL == "" && f.FilePath != "":
		return "only file_path given (an on-premise account): nothing to download"
	case f.DownloadURL == "" || len(f.DownloadURL) > maxTextLen:
		return "download_url missing or too long"
	}
	u, err := url.Parse(f.DownloadURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "download_url is not an http(s) URL"
	}
	if f.FileExtension != "" && !extRE.MatchString(f.FileExtension) {
		return "file_extension is not a plain extension"
	}
	return ""
}

// Completed reports whether Zoom has finished processing the file.
func (f *File) Completed() bool { return strings.EqualFold(f.Status, "completed") }

// SHA256 returns the fingerprint as lower-case hex when it is a SHA-256
// digest, else "".
func (f *File) SHA256() string {
	if hexSHA256.MatchString(f.EncryptionFingerprint) {
		return strings.ToLower(f.EncryptionFingerprint)
	}
	return ""
}

// zoomTime formats t the way /archive_files wants from and to.
func zoomTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func clip(s string) string {
	if len(s) > maxTextLen {
		return s[:maxTextLen]
	}
	return s
}
