package config_test

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zccingest/zccingest/ingest/config"
)

func TestLoadValid(t *testing.T) {
	t.Setenv("TEST_ZOOM_ACCOUNT_ID", "acct-1")
	t.Setenv("TEST_ZOOM_CLIENT_ID", "client-1")
	t.Setenv("TEST_ZOOM_CLIENT_SECRET", "s3cr$t")
	c, err := config.Load(filepath.Join("testdata", "valid.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Zoom.AccountID != "acct-1" || c.Zoom.ClientID != "client-1" || c.Zoom.ClientSecret != "s3cr$t" {
		t.Errorf("zoom = %+v", c.Zoom)
	}
	if c.Subscriptions[1].ID != "9pWcJx2sR0GQ4m1oAbCdEf" {
		t.Errorf("id from url = %q", c.Subscriptions[1].ID)
	}
	// Defaults.
	for _, tc := range []struct{ got, want any }{
		{c.Zoom.TokenURL, config.DefaultTokenURL},
		{c.Zoom.WebSocketURL, config.DefaultWebSocketURL},
		{c.Zoom.HeartbeatInterval.D(), 25 * time.Second},
		{c.Zoom.HeartbeatTimeout.D(), 10 * time.Second},
		{c.NATS.SubjectPrefix, "zoom"},
		{c.NATS.StreamName(), "ZOOM_EVENTS"},
		{c.NATS.DuplicateWindow.D(), 2 * time.Minute},
		{c.NATS.Embedded.Listen, "127.0.0.1:4222"},
		{c.NATS.Embedded.StoreDir, "./data/nats"},
		{c.NATS.BufferEvents, config.DefaultBufferEvents},
		{c.NATS.BufferBytes, config.Size(512 << 20)},
		{c.NATS.StreamMaxAge.D(), 7 * 24 * time.Hour},
		{c.NATS.StreamMaxBytes, config.Size(0)},
		{c.NATS.StreamReplicas, 1},
		{c.Capture.Dir, ""},
		{c.WAL.Enabled, true},
		{c.WAL.Dir, "data/wal"}, // beside nats.embedded.store_dir
		{c.WAL.Fsync, "interval"},
		{c.WAL.FsyncInterval.D(), 200 * time.Millisecond},
		{c.WAL.MaxBytes, config.Size(1 << 30)},
		{c.HTTP.Listen, "127.0.0.1:9464"},
		{c.Log.Level, "info"},
		{c.Log.Format, "json"},
	} {
		if tc.got != tc.want {
			t.Errorf("default %v, want %v", tc.got, tc.want)
		}
	}
	if s := c.Zoom.ClientSecret.String(); strings.Contains(s, "s3cr") {
		t.Errorf("Secret.String() = %q", s)
	}
}

func TestCoreNATSAndSizes(t *testing.T) {
	c, err := config.Parse([]byte(`
zoom: {account_id: a, client_id: c, client_secret: s, websocket_url: "ws://127.0.0.1:9000/ws", token_url: "http://[::1]:9000/oauth/token"}
subscriptions: [{name: a, id: x}]
nats: {stream: "", url: "nats://10.0.0.1:4222"}
capture: {dir: /tmp/c, max_file_size: 8MiB}
wal: {enabled: false, fsync: always, max_bytes: 2GiB}
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.NATS.StreamName() != "" || c.Capture.MaxFileSize != 8<<20 {
		t.Errorf("stream %q size %d", c.NATS.StreamName(), c.Capture.MaxFileSize)
	}
	if c.WAL.Enabled || c.WAL.Fsync != "always" || c.WAL.MaxBytes != 2<<30 {
		t.Errorf("wal %+v", c.WAL)
	}
}

// Each file in testdata/invalid starts with "# want: <text>": loading it must
// fail with a *config.Error whose message holds that text.
func TestInvalid(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "invalid", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	// Values the invalid files take from the environment: no error may
	// quote them, least of all the secret.
	t.Setenv("ZCC_TEST_WORD", "env-word-xyz")
	t.Setenv("ZCC_TEST_SECRET", "s3cr3t-from-env")
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			want := wantOf(t, file)
			_, err := config.Load(file)
			if err == nil {
				t.Fatalf("loaded without error, want %q", want)
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a *config.Error", err)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error = %q\nwant it to contain %q", err, want)
			}
			if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "env-word-xyz") {
				t.Errorf("error quotes a value from the environment: %q", err)
			}
			if strings.Contains(err.Error(), "pa$word") {
				t.Errorf("error quotes the secret: %q", err)
			}
		})
	}
}

// ${VAR} is expanded whatever the field's type, and the value is checked
// as strictly as one written in the file.
func TestEnvInTypedFields(t *testing.T) {
	t.Setenv("ZCC_TEST_BUF", "1500")
	t.Setenv("ZCC_TEST_HB", "12s")
	t.Setenv("ZCC_TEST_SIZE", "2MiB")
	c, err := config.Parse([]byte(`
zoom:
  account_id: acct
  client_id: cid
  client_secret: s
  heartbeat_interval: ${ZCC_TEST_HB}
subscriptions:
  - name: ris-a
    id: abc
nats:
  buffer_events: "${ZCC_TEST_BUF}"
capture:
  max_file_size: ${ZCC_TEST_SIZE}
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.NATS.BufferEvents != 1500 || c.Zoom.HeartbeatInterval.D() != 12*time.Second || c.Capture.MaxFileSize != 2<<20 {
		t.Errorf("buffer_events %d heartbeat_interval %s max_file_size %d", c.NATS.BufferEvents, c.Zoom.HeartbeatInterval.D(), c.Capture.MaxFileSize)
	}
}

// A file that never ends is refused after MaxFileSize bytes, not read until
// memory runs out.
func TestEndlessFile(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	_, err := config.Load("/dev/zero")
	var ce *config.Error
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Load(/dev/zero) = %v, want a *config.Error saying it is too large", err)
	}
}

func wantOf(t *testing.T, file string) string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	want, ok := strings.CutPrefix(sc.Text(), "# want: ")
	if !ok {
		t.Fatalf("%s does not start with # want:", file)
	}
	return want
}

// FuzzParse loads arbitrary files: a config or a *config.Error, never a
// panic, and never a secret's value in the error.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"valid.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "invalid", "*.yaml"))
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := config.Parse(data)
		if err == nil {
			return
		}
		var ce *config.Error
		if !errors.As(err, &ce) {
			t.Fatalf("error %T is not a *config.Error: %v", err, err)
		}
	})
}

func TestWarnings(t *testing.T) {
	base := "zoom: {account_id: a, client_id: c, client_secret: s}\nsubscriptions: [{name: a, id: x}]\n"
	for _, tc := range []struct{ nats, want string }{
		{"nats: {url: 'nats://nats-1.example:4222', user: u, password: p}", "nats.url: nats://nats-1.example:4222 with a password or token"},
		{"nats: {url: 'nats://u:p@nats-1.example:4222'}", "nats.url: nats://nats-1.example:4222 with a password"},
		{"nats: {url: 'tls://nats-1.example:4222', user: u, password: p}", ""},
		{"nats: {url: 'nats://127.0.0.1:4222', token: t}", ""},
		{"nats: {url: 'nats://nats-1.example:4222'}", ""},
		{"nats: {embedded: {listen: '0.0.0.0:4222', allow_plaintext: true}}", "nats.embedded.listen: 0.0.0.0:4222 is reachable from other hosts without TLS"},
		{"nats: {embedded: {listen: '0.0.0.0:4222', tls: {cert_file: c.pem, key_file: k.pem}}}", ""},
		{"", ""},
	} {
		c, err := config.Parse([]byte(base + tc.nats))
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(c.Warnings(), "\n")
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: warnings %q, want %q", tc.nats, got, tc.want)
		}
		if strings.Contains(got, "u:p") {
			t.Errorf("warning quotes the password: %q", got)
		}
	}
}
