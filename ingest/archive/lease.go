package archive

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A lease in KV lets one poller of an account poll at a time: two recorders
// of a 1+1 pair each run one, and without it both would download every
// file. It is taken and renewed by revision (compare-and-set), and lapses
// at Until if its holder dies.
type lease struct {
	Holder string    `json:"holder"`
	Until  time.Time `json:"until"`
}

func (p *Poller) leaseKey() string { return p.acct + ".lease" }

func defaultInstance() string {
	host, _ := os.Hostname()
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", subjectToken(host), os.Getpid(), hex.EncodeToString(b[:]))
}

// acquire takes the lease if it is free, lapsed or already ours; ok is false
// when another poller holds it.
func (p *Poller) acquire(ctx context.Context) (rev uint64, ok bool, err error) {
	data, _ := json.Marshal(lease{Holder: p.opts.Instance, Until: p.opts.Now().Add(p.opts.LeaseTTL)})
	e, err := p.kv.Get(ctx, p.leaseKey())
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		rev, err = p.kv.Create(ctx, p.leaseKey(), data)
	case err != nil:
		return 0, false, fmt.Errorf("archive: reading the poll lease: %w", err)
	default:
		var l lease
		if json.Unmarshal(e.Value(), &l) == nil && l.Holder != p.opts.Instance && p.opts.Now().Before(l.Until) {
			return 0, false, nil
		}
		rev, err = p.kv.Update(ctx, p.leaseKey(), data, e.Revision())
	}
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, false, nil // another poller was quicker
	}
	if err != nil {
		return 0, false, fmt.Errorf("archive: taking the poll lease: %w", err)
	}
	return rev, true, nil
}

// hold renews the lease until ctx ends, and cancels the poll (lost) if it
// cannot: a poller that may have lost the lease must not go on. It returns
// the lease's last revision, 0 if lost.
func (p *Poller) hold(ctx context.Context, rev uint64, lost context.CancelFunc) uint64 {
	t := time.NewTicker(p.opts.LeaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return rev
		case <-t.C:
		}
		data, _ := json.Marshal(lease{Holder: p.opts.Instance, Until: p.opts.Now().Add(p.opts.LeaseTTL)})
		r, err := p.kv.Update(ctx, p.leaseKey(), data, rev)
		if err != nil {
			if ctx.Err() != nil {
				return rev // the poll ended while renewing
			}
			p.opts.Logger.Error().Err(err).Msg("archive poll lease lost; stopping this poll")
			lost()
			return 0
		}
		rev = r
	}
}

// release gives the lease up at the end of a poll, so that the other
// poller of a pair may take the next.
func (p *Poller) release(rev uint64) {
	if rev == 0 {
		return // lost: not ours to delete
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.kv.Delete(ctx, p.leaseKey(), jetstream.LastRevision(rev)); err != nil {
		p.opts.Logger.Debug().Err(err).Msg("archive poll lease not released; it lapses")
	}
}
