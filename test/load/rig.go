package main

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/zccingest/zccingest/ingest/config"
	"github.com/zccingest/zccingest/ingest/natsout"
	"github.com/zccingest/zccingest/test/sim"
)

// A rig is one measured setup: the simulator and NATS in this process, the
// subject under test (zccingest, or the raw forwarder) as a child process,
// and a consumer counting what arrives.
type rig struct {
	sim     *sim.Server
	ns      *server.Server
	nc      *nats.Conn
	dir     string
	subs    []string
	cmd     *exec.Cmd
	waitErr chan error

	received atomic.Int64
	arrived  chan struct{}
	latMu    sync.Mutex
	lat      []time.Duration
	keepLat  bool
	httpAddr string
}

type rigSpec struct {
	bin       string
	forward   bool // the raw-forward baseline instead of zccingest
	headers   bool // the raw forward publishes with a typical message's headers
	subs      int
	jetstream bool
	simOpts   sim.Options
	hb        string
	logLevel  string
	wal       string // interval, always, off
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func startRig(ctx context.Context, spec rigSpec) (*rig, error) {
	r := &rig{arrived: make(chan struct{}, 1)}
	var err error
	if r.dir, err = os.MkdirTemp("", "zccload-"); err != nil {
		return nil, err
	}
	for i := range spec.subs {
		r.subs = append(r.subs, fmt.Sprintf("sub%d", i+1))
	}
	opts := spec.simOpts
	opts.Subscriptions = r.subs
	r.sim = sim.New(opts)
	if err := r.sim.Start("127.0.0.1:0"); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	if r.ns, err = natsout.StartEmbedded(natsout.Embedded{Listen: fmt.Sprintf("127.0.0.1:%d", port), StoreDir: filepath.Join(r.dir, "nats")}, nil, zerolog.Nop()); err != nil {
		return nil, err
	}
	if r.nc, err = nats.Connect(r.ns.ClientURL()); err != nil {
		return nil, err
	}
	stream := ""
	if spec.jetstream {
		stream = config.DefaultStream
		js, _ := jetstream.New(r.nc)
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{"zoom.>"}, Duplicates: 2 * time.Minute, Storage: jetstream.FileStorage}); err != nil {
			return nil, err
		}
	}
	sub, err := r.nc.Subscribe("zoom.>", r.consume)
	if err != nil {
		return nil, err
	}
	sub.SetPendingLimits(-1, -1)
	r.nc.Flush()

	o := r.sim.Options()
	var b strings.Builder
	hb := spec.hb
	if hb == "" {
		hb = "25s"
	}
	level := spec.logLevel
	if level == "" {
		level = "warn"
	}
	fmt.Fprintf(&b, "zoom: {account_id: %s, client_id: %s, client_secret: %s, token_url: %q, websocket_url: %q, heartbeat_interval: %s}\nsubscriptions:\n",
		o.AccountID, o.ClientID, o.ClientSecret, r.sim.TokenURL(), r.sim.WebSocketURL(), hb)
	for _, s := range r.subs {
		fmt.Fprintf(&b, "  - {name: ris-%s, id: %s}\n", s, s)
	}
	hport, err := freePort()
	if err != nil {
		return nil, err
	}
	r.httpAddr = fmt.Sprintf("127.0.0.1:%d", hport)
	fmt.Fprintf(&b, "nats: {url: %q, stream: %q}\nhttp: {listen: %q}\nlog: {level: %s}\n", r.ns.ClientURL(), stream, r.httpAddr, level)
	if spec.wal == "off" {
		b.WriteString("wal: {enabled: false}\n")
	} else {
		fmt.Fprintf(&b, "wal: {dir: %q, fsync: %s}\n", filepath.Join(r.dir, "wal"), cmp.Or(spec.wal, "interval"))
	}
	cfgPath := filepath.Join(r.dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	if spec.forward {
		self, _ := os.Executable()
		r.cmd = exec.Command(self, "-forward", "-forward-config", cfgPath)
		if spec.headers {
			r.cmd.Args = append(r.cmd.Args, "-forward-headers")
		}
	} else {
		r.cmd = exec.Command(spec.bin, "run", "--config", cfgPath)
	}
	r.cmd.Stdout, r.cmd.Stderr = os.Stderr, os.Stderr
	if err := r.cmd.Start(); err != nil {
		return nil, err
	}
	r.waitErr = make(chan error, 1)
	go func() { r.waitErr <- r.cmd.Wait() }()
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for _, s := range r.subs {
		if err := r.sim.WaitBuilds(wctx, s, 1); err != nil {
			r.close()
			return nil, fmt.Errorf("subscription %s did not connect: %w", s, err)
		}
	}
	return r, nil
}

func (r *rig) consume(m *nats.Msg) {
	if r.keepLat {
		if ns := sentNS(m.Data); ns > 0 {
			d := time.Since(time.Unix(0, ns))
			r.latMu.Lock()
			r.lat = append(r.lat, d)
			r.latMu.Unlock()
		}
	}
	r.received.Add(1)
	select {
	case r.arrived <- struct{}{}:
	default:
	}
}

// waitReceived waits until n messages arrived, or until nothing has arrived
// for idle; it returns how many did.
func (r *rig) waitReceived(ctx context.Context, n int64, idle time.Duration) int64 {
	t := time.NewTimer(idle)
	defer t.Stop()
	for r.received.Load() < n {
		select {
		case <-r.arrived:
			t.Reset(idle)
		case <-t.C:
			return r.received.Load()
		case <-ctx.Done():
			return r.received.Load()
		}
	}
	return r.received.Load()
}

// stop sends SIGTERM and waits for the child to drain and exit.
func (r *rig) stop() error {
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-r.waitErr:
		return err
	case <-time.After(60 * time.Second):
		r.cmd.Process.Kill()
		return fmt.Errorf("child did not exit after SIGTERM")
	}
}

func (r *rig) close() {
	if r.cmd != nil && r.cmd.ProcessState == nil {
		r.cmd.Process.Kill()
		<-r.waitErr
	}
	if r.nc != nil {
		r.nc.Close()
	}
	if r.ns != nil {
		r.ns.Shutdown()
		r.ns.WaitForShutdown()
	}
	r.sim.Close()
	os.RemoveAll(r.dir)
}

// procStats reads a process's CPU time and memory from /proc.
type procStats struct {
	cpu       time.Duration
	rss, peak int64 // bytes
}

func readProc(pid int) (procStats, error) {
	var st procStats
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, err
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	st.cpu = time.Duration(utime+stime) * time.Second / 100 // USER_HZ
	b, err = os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			st.rss = kb << 10
		case "VmHWM":
			st.peak = kb << 10
		}
	}
	return st, nil
}

// loadEvent is an engagement event as Zoom sends it, stamped with its
// sequence number and send time for the consumer.
func loadEvent(seq int) []byte {
	now := time.Now()
	return fmt.Appendf(nil, `{"event":"contact_center.engagement_user_answered","event_ts":%d,"payload":{"account_id":"LoadAccount00000000000","object":{"engagement_id":"eng-%09d","engagement_direction":"inbound","channel":"voice","channel_source":"in_app_video","date_time_ms":"%s","flow_id":"ZWWC0A840C726C2CE3ACF01041CB8CFD8B9","flow_name":"My Flow","cc_queue_id":"xqJE_cgERLyAJHYYL5LLeg","queue_name":"My Queue","consumer_number":"+18005550100","user_id":"IGTRVt3gQ2i-WjoUIjeZxw","user_display_name":"John Doe","flow_number":"+18005550101","consumer_id":"szCyubr_aQhieHNWYbAGMYg","consumer_display_name":"Jane Smith","sim_seq":%d,"sim_sent_ns":%d}}}`,
		now.UnixMilli(), seq, now.UTC().Format("2006-01-02T15:04:05.000Z"), seq, now.UnixNano())
}

// sentNS finds sim_sent_ns in a body, raw frame or normalized message alike.
func sentNS(b []byte) int64 {
	const key = `sim_sent_ns`
	i := strings.Index(string(b), key)
	if i < 0 {
		return 0
	}
	j := i + len(key)
	for j < len(b) && (b[j] == '"' || b[j] == '\\' || b[j] == ':') {
		j++
	}
	var n int64
	for ; j < len(b) && b[j] >= '0' && b[j] <= '9'; j++ {
		n = n*10 + int64(b[j]-'0')
	}
	return n
}

// streamMsgs counts the messages in the stream.
func (r *rig) streamMsgs(ctx context.Context) (uint64, error) {
	js, err := jetstream.New(r.nc)
	if err != nil {
		return 0, err
	}
	st, err := js.Stream(ctx, config.DefaultStream)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.Msgs, nil
}
