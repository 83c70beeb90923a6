package archive

import (
	"os"
	"testing"
)

// FuzzDecodeList: no input makes the list decoder panic, and what it
// accepts is within its bounds, each file either usable or refused with a
// reason.
func FuzzDecodeList(f *testing.F) {
	if data, err := os.ReadFile("testdata/archive_files.json"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"meetings":[{"uuid":"u","archive_files":[{"id":"x","file_size":-1,"download_url":"ftp://x"}]}]}`))
	f.Add([]byte(`{"next_page_token":"t","meetings":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeList(data)
		if err != nil {
			return
		}
		if len(r.Meetings) > MaxMeetings {
			t.Fatalf("%d meetings accepted", len(r.Meetings))
		}
		for _, m := range r.Meetings {
			if m.UUID == "" || len(m.UUID) > maxIDLen || len(m.Files) > MaxFilesPerMeet {
				t.Fatalf("meeting accepted out of bounds: %q, %d files", m.UUID, len(m.Files))
			}
			for _, file := range m.Files {
				if file.Problem() == "" {
					if file.FileSize < 0 || file.FileSize > MaxFileSize || file.ID == "" {
						t.Fatalf("file accepted out of bounds: %+v", file)
					}
					if k := fileKey(file.ID); !keySafe.MatchString(k) {
						t.Fatalf("key %q", k)
					}
				}
			}
		}
	})
}
