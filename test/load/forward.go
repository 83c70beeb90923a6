package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/zccingest/zccingest/events"
	"github.com/zccingest/zccingest/ingest/config"
	"github.com/zccingest/zccingest/ingest/zoomws"
	"github.com/zccingest/zccingest/test/sim"
)

// rawForward is the baseline: one token, each subscription's socket read
// frame by frame, every frame published unchanged, nothing decoded. Its
// throughput is what the ingester's is measured against. With headers, it
// publishes every frame with the headers of a typical event message (one
// map, built once): what the wire format costs with nothing decoded.
func rawForward(ctx context.Context, cfgPath string, headers bool) error {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	form := url.Values{"grant_type": {"account_credentials"}, "account_id": {cfg.Zoom.AccountID}}
	req, _ := http.NewRequestWithContext(ctx, "POST", cfg.Zoom.TokenURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(cfg.Zoom.ClientID, string(cfg.Zoom.ClientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()

	nc, err := nats.Connect(cfg.NATS.URL)
	if err != nil {
		return err
	}
	defer nc.Close()
	var js jetstream.JetStream
	if cfg.NATS.StreamName() != "" {
		js, _ = jetstream.New(nc)
	}
	var hdr nats.Header
	if headers {
		if hdr, err = typicalHeader(); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	for _, s := range cfg.Subscriptions {
		u, _ := zoomws.URL(cfg.Zoom.WebSocketURL, s.ID, tok.AccessToken)
		ws, _, err := websocket.Dial(ctx, u, zoomws.DialOptions())
		if err != nil {
			return err
		}
		ws.SetReadLimit(zoomws.ReadLimit)
		subject := "zoom.raw." + s.Name
		if _, _, err := ws.Read(ctx); err != nil { // build_connection
			return err
		}
		wg.Go(func() {
			defer ws.CloseNow()
			for {
				_, b, err := ws.Read(ctx)
				if err != nil {
					return
				}
				switch {
				case hdr != nil && js != nil:
					if _, err := js.PublishMsgAsync(&nats.Msg{Subject: subject, Header: hdr, Data: b}); err != nil {
						fmt.Println("forward:", err)
					}
				case hdr != nil:
					nc.PublishMsg(&nats.Msg{Subject: subject, Header: hdr, Data: b})
				case js != nil:
					if _, err := js.PublishAsync(subject, b); err != nil {
						fmt.Println("forward:", err)
					}
				default:
					nc.Publish(subject, b)
				}
			}
		})
	}
	wg.Wait()
	if js != nil {
		<-js.PublishAsyncComplete()
	}
	return nc.Flush()
}

// typicalHeader is the header of the load's event as zccingest publishes it.
func typicalHeader() (nats.Header, error) {
	f, err := events.ParseFrame(sim.MessageFrame(loadEvent(0)))
	if err != nil {
		return nil, err
	}
	ev, err := f.Event()
	if err != nil {
		return nil, err
	}
	m, err := ev.Message("zoom", "ris-sub1", time.Now())
	if err != nil {
		return nil, err
	}
	return nats.Header(m.Header), nil
}
