package events_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zccingest/zccingest/events"
)

// The claim works as README tells adapter writers: of every adapter that
// sees a stream's voice_rtms_started (a pair's two copies, a failover's
// second one), exactly one creates its key.
func TestRTMSClaimInKV(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: events.RTMSClaimBucket, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}

	example := readExample(t, "contact_center.voice_rtms_started")
	for _, engagement := range []string{"4444AAAiAAAAAiAiAiiAii==", "a/b=c_d-e", "with.dots and spaces*>"} {
		started := bytes.Replace(example, []byte("4444AAAiAAAAAiAiAiiAii=="), []byte(engagement), 1)
		failover := bytes.Replace(started, []byte(`"wss://127.0.0.1:443"`), []byte(`"wss://10.0.0.2:443"`), 1)
		var wins, taken int
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, content := range [][]byte{started, started, failover} { // a pair's copies, then the failover's
			key, err := decode(t, frameOf(t, content)).RTMSClaimKey()
			if err != nil {
				t.Fatal(err)
			}
			for adapter := range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := kv.Create(ctx, key, []byte{byte('a' + adapter)})
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						wins++
					case errors.Is(err, jetstream.ErrKeyExists):
						taken++
					default:
						t.Errorf("%q: Create(%q): %v", engagement, key, err)
					}
				}()
			}
		}
		wg.Wait()
		if wins != 1 || taken != 8 {
			t.Errorf("engagement %q: %d claims won, %d refused; want 1 and 8", engagement, wins, taken)
		}
	}
}
