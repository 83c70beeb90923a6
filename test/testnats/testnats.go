// Package testnats starts NATS servers for tests: one with JetStream on a
// loopback port, or a cluster of them; and the free ports and deadlines
// tests need around them.
package testnats

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Timeout returns a context that ends after d or with the test.
func Timeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// FreePort returns a loopback TCP port nothing listens on just now.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Options of a test server; the zero value is JetStream on a free port
// with a store in a temporary directory.
type Options struct {
	Port           int    // 0: a free one
	StoreDir       string // "": t.TempDir()
	MaxPayload     int32  // 0: NATS's default
	MaxControlLine int32  // 0: NATS's default
	NoJetStream    bool
	// Edit, when set, changes the server options last.
	Edit func(*server.Options)
}

// Start starts a server and shuts it down when the test ends.
//
// FreePort's port is free when it answers, not when the server binds it:
// another test's socket may take it in between (the whole suite runs in
// parallel under -race). A server that does not come up is tried again,
// on a new port when the caller left the choice to Start.
func Start(t testing.TB, o Options) *server.Server {
	t.Helper()
	pick := o.Port == 0
	if o.StoreDir == "" {
		o.StoreDir = t.TempDir()
	}
	const attempts = 3
	for attempt := 1; ; attempt++ {
		if pick {
			o.Port = FreePort(t)
		}
		so := &server.Options{
			Host: "127.0.0.1", Port: o.Port, JetStream: !o.NoJetStream, StoreDir: o.StoreDir,
			NoSigs: true, NoLog: true, MaxPayload: o.MaxPayload, MaxControlLine: o.MaxControlLine,
		}
		if o.Edit != nil {
			o.Edit(so)
		}
		s, err := server.NewServer(so)
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		if s.ReadyForConnections(10 * time.Second) {
			t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
			return s
		}
		s.Shutdown()
		s.WaitForShutdown()
		if attempt == attempts {
			t.Fatalf("NATS server on port %d did not start (%d attempts)", o.Port, attempts)
		}
	}
}

// A Cluster is n clustered JetStream servers on loopback.
type Cluster struct {
	t       testing.TB
	Servers []*server.Server // nil where stopped
	opts    []Options
}

// StartCluster starts n clustered JetStream servers on loopback and waits
// until JetStream has a meta leader.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	ports := make([]int, n)
	var routes []string
	for i := range ports {
		ports[i] = FreePort(t)
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[i]))
	}
	c := &Cluster{t: t, Servers: make([]*server.Server, n)}
	for i := range n {
		c.opts = append(c.opts, Options{Port: FreePort(t), StoreDir: t.TempDir(), Edit: func(o *server.Options) {
			o.ServerName = fmt.Sprintf("s%d", i+1)
			o.Cluster = server.ClusterOpts{Name: "zcc-test", Host: "127.0.0.1", Port: ports[i]}
			o.Routes = server.RoutesFromStr(strings.Join(append(slices.Clone(routes[:i]), routes[i+1:]...), ","))
		}})
	}
	for i := range n {
		c.Servers[i] = Start(t, c.opts[i])
	}
	c.WaitMetaLeader()
	return c
}

// WaitMetaLeader waits until one running server is JetStream's meta leader.
func (c *Cluster) WaitMetaLeader() {
	c.t.Helper()
	ctx := Timeout(c.t, 20*time.Second)
	for {
		for _, s := range c.Servers {
			if s != nil && s.JetStreamIsLeader() {
				return
			}
		}
		select {
		case <-ctx.Done():
			c.t.Fatal("the NATS cluster elected no JetStream meta leader in 20 s")
		case <-time.After(20 * time.Millisecond): // polling the servers' own state
		}
	}
}

// Named returns the index of the running server of that name, -1 if none.
func (c *Cluster) Named(name string) int {
	for i, s := range c.Servers {
		if s != nil && s.Name() == name {
			return i
		}
	}
	return -1
}

// Stop shuts server i down.
func (c *Cluster) Stop(i int) {
	c.Servers[i].Shutdown()
	c.Servers[i].WaitForShutdown()
	c.Servers[i] = nil
}

// Restart starts server i again on its ports and store.
func (c *Cluster) Restart(i int) { c.Servers[i] = Start(c.t, c.opts[i]) }

// URLs returns every server's client URL, comma-separated: a client's seed
// list.
func (c *Cluster) URLs() string {
	var urls []string
	for i, o := range c.opts {
		if c.Servers[i] != nil {
			urls = append(urls, c.Servers[i].ClientURL())
		} else {
			urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", o.Port))
		}
	}
	return strings.Join(urls, ",")
}

// A Proxy forwards TCP connections to a server; Cut breaks them all, as a
// network failure does, while the server stays up.
type Proxy struct {
	t      testing.TB
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns []net.Conn
	down  bool
}

// NewProxy listens on a free loopback port and forwards to target
// (host:port); it stops with the test.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{t: t, ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.Cut() })
	go p.accept()
	return p
}

// URL is the proxy's nats:// URL.
func (p *Proxy) URL() string { return "nats://" + p.ln.Addr().String() }

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go func() { io.Copy(s, c); s.Close(); c.Close() }()
		go func() { io.Copy(c, s); s.Close(); c.Close() }()
	}
}

// Cut closes every forwarded connection and refuses new ones until
// Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// Restore accepts connections again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// A LogBuffer collects a test's log lines, written from any goroutine.
type LogBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
