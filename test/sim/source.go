package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/zccingest/zccingest/ingest/capture"
	"github.com/zccingest/zccingest/test/examples"
)

// Examples returns Zoom's example payload of each event, by event name.
func Examples() map[string][]byte { return examples.All() }

// ExampleNames returns the example events' names, sorted.
func ExampleNames() []string { return examples.Names() }

// A Source yields events to send: the event JSON, or io.EOF when done.
type Source interface {
	Next() ([]byte, error)
}

// ExampleSource cycles through the examples, each sent with a fresh event_ts
// (and a sequence number in the object) so that every one is a new event.
type ExampleSource struct {
	examples map[string][]byte
	names    []string
	i        int
}

func NewExampleSource() *ExampleSource {
	return &ExampleSource{examples: Examples(), names: ExampleNames()}
}

func (s *ExampleSource) Next() ([]byte, error) {
	name := s.names[s.i%len(s.names)]
	s.i++
	ev, err := decodeEvent(s.examples[name])
	if err != nil {
		return nil, err
	}
	ev.Payload.Object["sim_seq"] = s.i
	ev.EventTS = time.Now().UnixMilli()
	return json.Marshal(ev)
}

type event struct {
	Event   string  `json:"event"`
	EventTS int64   `json:"event_ts"`
	Payload payload `json:"payload"`
}

// payload is {"account_id", "object"}, or for the flat voice_rtms_* events
// the object's fields themselves, with no account.
type payload struct {
	AccountID string
	Object    map[string]any
	flat      bool
}

type nested struct {
	AccountID string         `json:"account_id"`
	Object    map[string]any `json:"object"`
}

func (p payload) MarshalJSON() ([]byte, error) {
	if p.flat {
		return json.Marshal(p.Object)
	}
	return json.Marshal(nested{p.AccountID, p.Object})
}

func (p *payload) UnmarshalJSON(b []byte) error {
	var n nested
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	if n.Object == nil && n.AccountID == "" {
		p.flat = true
		return json.Unmarshal(b, &p.Object)
	}
	p.AccountID, p.Object = n.AccountID, n.Object
	return nil
}

func decodeEvent(b []byte) (*event, error) {
	var ev event
	if err := json.Unmarshal(b, &ev); err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	return &ev, nil
}

// Generator makes realistic Contact Center traffic: agents log in and set
// their status, and engagements run started, task, queue, reservation,
// answered (Zoom's recording and real-time media stream start), hold and
// unhold (the recording paused and resumed around it), sometimes a
// supervisor monitoring, a conference or a transfer, ended (recording and
// stream stopped), wrap-up with a disposition, with consistent ids.
type Generator struct {
	mu       sync.Mutex // Next may be called from a Steady goroutine while a test reads
	rnd      *rand.Rand
	account  string
	examples map[string][]byte
	agents   []agent
	queue    []*event
	seq      int
	// recordingStart is when the current engagement's recording started.
	recordingStart string
	truth          *truth
	lastEv         TruthEvent
	emitted        bool
	clock          func() time.Time
}

// SetClock makes Next stamp events with now() instead of the time: for
// tests that want traffic spread over minutes without waiting minutes.
func (g *Generator) SetClock(now func() time.Time) {
	g.mu.Lock()
	g.clock = now
	g.mu.Unlock()
}

type agent struct {
	id, name, email string
	loggedIn        bool
	st              status // as planned: what the queued events leave it in
}

// status is an agent's status and sub-status, as user_status_changed names them.
type status struct{ id, name, subID, sub string }

var (
	offline    = status{"0", StatusOffline, "", ""}
	ready      = status{"1", StatusReady, "", ""}
	occupied   = status{"3", StatusOccupied, "30", "Inbound"}
	wrappingUp = status{"3", StatusOccupied, "31", "Wrapping up"}
	notReady   = []status{{"2", StatusNotReady, "20", "Break"}, {"2", StatusNotReady, "21", "Meal"}, {"2", StatusNotReady, "22", "Training"}}
)

// NewGenerator returns a generator with n agents; seed makes it repeatable.
func NewGenerator(seed uint64, account string, n int) *Generator {
	g := &Generator{rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), account: account, examples: Examples(), truth: newTruth()}
	for i := range max(n, 1) {
		g.agents = append(g.agents, agent{id: fmt.Sprintf("agent%04d-%s", i, g.id(8)), name: fmt.Sprintf("Agent %d", i), email: fmt.Sprintf("agent%d@example.com", i), st: offline})
		g.truth.addAgent(g.agents[i])
	}
	return g
}

func (g *Generator) id(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.rnd.IntN(len(alphabet))]
	}
	return string(b)
}

// Next returns the next event, stamped now, and records it in the
// generator's ground truth.
func (g *Generator) Next() ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.queue) == 0 {
		g.plan()
	}
	ev := g.queue[0]
	g.queue = g.queue[1:]
	now := time.Now()
	if g.clock != nil {
		now = g.clock()
	}
	ev.EventTS = now.UnixMilli()
	stamp := now.UTC().Format("2006-01-02T15:04:05.000Z")
	for _, k := range []string{"date_time_ms", "created_time_ms", "last_modified_time_ms", "recording_end_time_ms"} {
		if _, ok := ev.Payload.Object[k]; ok {
			ev.Payload.Object[k] = stamp
		}
	}
	if ev.Event == "contact_center.recording_started" {
		g.recordingStart = stamp
	}
	if _, ok := ev.Payload.Object["recording_start_time_ms"]; ok {
		ev.Payload.Object["recording_start_time_ms"] = g.recordingStart
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	g.lastEv, g.emitted = g.truth.observe(g.account, ev), true
	return b, nil
}

// last is the truth of the event Next returned last.
func (g *Generator) last() (TruthEvent, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lastEv, g.emitted
}

func (a *agent) who() map[string]any {
	return map[string]any{"user_id": a.id, "display_name": a.name, "user_email": a.email, "user_display_name": a.name, "assigned_user_id": a.id}
}

// setStatus queues a user_status_changed taking a to st.
func (g *Generator) setStatus(a *agent, st status) {
	prev := a.st
	a.st = st
	g.queue = append(g.queue, g.make("contact_center.user_status_changed", merge(a.who(), map[string]any{
		"previous_status_id": prev.id, "previous_status_name": prev.name, "previous_sub_status_id": prev.subID, "previous_sub_status_name": prev.sub,
		"current_status_id": st.id, "current_status_name": st.name, "current_sub_status_id": st.subID, "current_sub_status_name": st.sub,
	})))
}

// login queues a's login and its status going Ready.
func (g *Generator) login(a *agent) {
	a.loggedIn = true
	g.queue = append(g.queue, g.make("contact_center.user_login", a.who()))
	g.setStatus(a, ready)
}

// agentStep queues a status change of an agent not on an engagement: log
// in, go Not Ready with a reason, come back Ready, or log out.
func (g *Generator) agentStep(logout bool) {
	a := &g.agents[g.rnd.IntN(len(g.agents))]
	switch {
	case !a.loggedIn:
		g.login(a)
	case a.st.name == StatusNotReady:
		g.setStatus(a, ready)
	case logout:
		g.setStatus(a, offline)
		a.loggedIn = false
		g.queue = append(g.queue, g.make("contact_center.user_logout", a.who()))
	default:
		g.setStatus(a, notReady[g.rnd.IntN(len(notReady))])
	}
}

func (g *Generator) make(name string, set map[string]any) *event {
	ev, _ := decodeEvent(g.examples[name])
	ev.Payload.AccountID = g.account
	for k, v := range set {
		if _, ok := ev.Payload.Object[k]; ok {
			ev.Payload.Object[k] = v
		}
	}
	return ev
}

// plan queues the next engagement, logging its agent in (or back to
// Ready) first if needed; now and then an agent's status change instead.
func (g *Generator) plan() {
	if r := g.rnd.IntN(12); r < 3 {
		g.agentStep(r == 0)
		return
	}
	a := &g.agents[g.rnd.IntN(len(g.agents))]
	who := a.who()
	if !a.loggedIn {
		g.login(a)
	} else if a.st != ready {
		g.setStatus(a, ready)
	}
	g.seq++
	eng := map[string]any{
		"engagement_id": g.id(22), "task_id": "ZWT" + g.id(32), "task_reservation_id": "ZWR" + g.id(32),
		"consumer_id": g.id(22), "consumer_number": fmt.Sprintf("+1800555%04d", g.rnd.IntN(10000)),
		"channel": "voice", "channel_name": "voice", "engagement_direction": "inbound",
	}
	eng["recording_id"] = "rec-" + g.id(20)
	eng["rtms_stream_id"] = fmt.Sprintf("%032x", g.rnd.Uint64())
	eng["users"] = []any{map[string]any{"user_id": a.id, "user_display_name": a.name}}
	eng["consumers"] = []any{map[string]any{"consumer_id": eng["consumer_id"], "consumer_number": eng["consumer_number"], "consumer_display_name": "Caller"}}
	c := merge(who, eng)
	steps := []string{
		"contact_center.engagement_started", "contact_center.task_created", "contact_center.task_entered_queue",
		"contact_center.task_reservation_created", "contact_center.engagement_consumer_notified",
		"contact_center.task_reservation_accepted", "contact_center.task_exited_queue",
		"contact_center.engagement_user_answered", "contact_center.recording_started", "contact_center.voice_rtms_started",
		"contact_center.engagement_consumer_answered",
		"contact_center.recording_paused", "contact_center.engagement_user_hold",
		"contact_center.engagement_user_unhold", "contact_center.recording_resumed",
	}
	other := g.agents[g.rnd.IntN(len(g.agents))]
	switch g.rnd.IntN(4) {
	case 0:
		steps = append(steps, "contact_center.engagement_monitor_started", "contact_center.engagement_monitor_ended")
	case 1:
		steps = append(steps, "contact_center.engagement_conference_participant_invited",
			"contact_center.engagement_conference_participant_joined", "contact_center.engagement_conference_participant_left")
	}
	transfer := map[string]any{"transfer_to_user_id": other.id, "transfer_to_user_display_name": other.name}
	if g.rnd.IntN(5) == 0 {
		steps = append(steps, "contact_center.engagement_transfer_initiated", "contact_center.engagement_transfer_queued",
			"contact_center.engagement_transfer_reserved", "contact_center.engagement_transfer_accepted",
			"contact_center.engagement_transfer_completed")
	}
	steps = append(steps, "contact_center.recording_stopped", "contact_center.voice_rtms_stopped",
		"contact_center.engagement_user_ended", "contact_center.engagement_consumer_ended", "contact_center.engagement_ended",
		"contact_center.engagement_wrap_up_started", "contact_center.engagement_disposition_added", "contact_center.engagement_wrap_up_ended",
		"contact_center.task_reservation_completed", "contact_center.task_completed", "contact_center.recording_completed")
	conference := map[string]any{
		"conference_id": g.id(36),
		"conference_participants": []any{
			map[string]any{"participant_display_name": "Caller", "participant_role": "customer", "participant_phone_number": eng["consumer_number"]},
			map[string]any{"participant_user_id": a.id, "participant_display_name": a.name, "participant_role": "host"},
			map[string]any{"participant_user_id": other.id, "participant_display_name": other.name, "participant_role": "invitee"},
		},
	}
	invitee := map[string]any{"participant_user_id": other.id}
	for _, s := range steps {
		set := c
		switch s {
		case "contact_center.task_created", "contact_center.task_reservation_created":
			set = merge(c, map[string]any{"task_status": "pending"})
		case "contact_center.task_completed":
			set = merge(c, map[string]any{"task_status": "completed"})
		case "contact_center.engagement_monitor_started", "contact_center.engagement_monitor_ended":
			set = merge(c, map[string]any{"monitoring_user_id": other.id, "monitoring_user_display_name": other.name, "action_type": "listen"})
		case "contact_center.engagement_conference_participant_invited":
			set = merge(merge(c, conference), map[string]any{"invited_participant": invitee})
		case "contact_center.engagement_conference_participant_joined":
			set = merge(merge(c, conference), map[string]any{"joining_participant": invitee})
		case "contact_center.engagement_conference_participant_left":
			set = merge(merge(c, conference), map[string]any{"leaving_participant": invitee})
		case "contact_center.voice_rtms_started":
			set = merge(c, map[string]any{"server_urls": "wss://rtms.sim.invalid/" + eng["engagement_id"].(string)})
		case "contact_center.engagement_transfer_initiated", "contact_center.engagement_transfer_queued",
			"contact_center.engagement_transfer_reserved", "contact_center.engagement_transfer_accepted",
			"contact_center.engagement_transfer_completed":
			set = merge(c, transfer)
		}
		g.queue = append(g.queue, g.make(s, set))
		// The agent's status follows the engagement: Occupied once it
		// answers, Wrapping up, then Ready again.
		switch s {
		case "contact_center.engagement_user_answered":
			g.setStatus(a, occupied)
		case "contact_center.engagement_wrap_up_started":
			g.setStatus(a, wrappingUp)
		case "contact_center.engagement_wrap_up_ended":
			g.setStatus(a, ready)
		}
	}
}

func merge(a, b map[string]any) map[string]any {
	m := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}

// A Replay plays frames from capture files, byte for byte. A frame recorded
// on several subscriptions (a 1+1 pair's copies) is played once.
type Replay struct {
	files []string
	r     *capture.Reader
	f     *os.File
	seen  map[string]bool
}

// NewReplay reads the capture files in order.
func NewReplay(files ...string) *Replay { return &Replay{files: files, seen: map[string]bool{}} }

// NextRecord returns the next distinct captured frame, io.EOF at the end.
func (r *Replay) NextRecord() (capture.Record, error) {
	for {
		if r.r == nil {
			if len(r.files) == 0 {
				return capture.Record{}, io.EOF
			}
			f, err := os.Open(r.files[0])
			if err != nil {
				return capture.Record{}, fmt.Errorf("sim: replay: %w", err)
			}
			r.f, r.r = f, capture.NewReader(f, r.files[0])
			r.files = r.files[1:]
		}
		rec, err := r.r.Next()
		if errors.Is(err, io.EOF) {
			r.f.Close()
			r.r = nil
			continue
		}
		if err != nil {
			return rec, err
		}
		if r.seen[rec.Frame] {
			continue
		}
		r.seen[rec.Frame] = true
		if len(r.seen) > 100_000 {
			clear(r.seen)
		}
		return rec, nil
	}
}

// Play sends events from src to every subscription at rate events per
// second (0: as fast as the sockets take them) until count events have been
// sent (0: until src ends or ctx is done). It returns how many it sent.
func (s *Server) Play(ctx context.Context, src Source, rate float64, count int) (int, error) {
	start := time.Now()
	sent := 0
	for count == 0 || sent < count {
		if rate > 0 {
			due := start.Add(time.Duration(float64(sent) / rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return sent, ctx.Err()
				}
			}
		}
		if ctx.Err() != nil {
			return sent, ctx.Err()
		}
		ev, err := src.Next()
		if errors.Is(err, io.EOF) {
			return sent, nil
		}
		if err != nil {
			return sent, err
		}
		s.played(src, s.SendEvent(ctx, ev))
		sent++
	}
	return sent, nil
}

// Steady sends an event from src to every subscription rate times a
// second until the returned stop is called (once or more): traffic through whatever a
// test does to the sockets meanwhile, the simulator's record saying what
// each one accepted. Unlike Play it takes no context: a write cancelled
// half-way would close the socket, a fault of the test's own making.
func (s *Server) Steady(src Source, rate int) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
			}
			ev, err := src.Next()
			if err != nil {
				panic(err)
			}
			s.played(src, s.SendEvent(context.Background(), ev))
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(quit); <-done }) }
}

// PlayReplay sends the captured frames to every subscription at the recorded
// pace divided by speed (0: as fast as possible).
func (s *Server) PlayReplay(ctx context.Context, r *Replay, speed float64) (int, error) {
	var first time.Time
	start := time.Now()
	sent := 0
	for {
		rec, err := r.NextRecord()
		if errors.Is(err, io.EOF) {
			return sent, nil
		}
		if err != nil {
			return sent, err
		}
		if first.IsZero() {
			first = rec.At
		}
		if speed > 0 {
			due := start.Add(time.Duration(float64(rec.At.Sub(first)) / speed))
			if d := time.Until(due); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return sent, ctx.Err()
				}
			}
		}
		for _, sub := range s.opts.Subscriptions {
			s.Send(ctx, sub, []byte(rec.Frame))
		}
		sent++
	}
}
