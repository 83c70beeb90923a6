package archive

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DefaultOrphanAge is how long unreferenced chunks must have been idle
// before CleanOrphans removes them: a Put in progress writes its chunks
// continuously, so its last chunk is always recent.
const DefaultOrphanAge = time.Hour

// CleanOrphans removes the chunks of objects whose Put never finished: a
// process killed mid-download (SIGKILL, OOM, power) leaves them in the
// bucket's stream, unreferenced by any object, for ever. Only chunk
// subjects unreferenced and idle for olderThan go. It returns how many.
func (p *Poller) CleanOrphans(ctx context.Context, olderThan time.Duration) (int, error) {
	stream, err := p.opts.JetStream.Stream(ctx, "OBJ_"+p.opts.Bucket)
	if err != nil {
		return 0, fmt.Errorf("archive: opening the bucket's stream: %w", err)
	}
	prefix := "$O." + p.opts.Bucket + ".C."
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(prefix+">"))
	if err != nil {
		return 0, fmt.Errorf("archive: listing the bucket's chunks: %w", err)
	}
	if len(info.State.Subjects) == 0 {
		return 0, nil
	}
	objs, err := p.obs.List(ctx, jetstream.ListObjectsShowDeleted())
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		return 0, fmt.Errorf("archive: listing the bucket's objects: %w", err)
	}
	used := map[string]bool{}
	for _, o := range objs {
		used[o.NUID] = true
	}
	n := 0
	for subj := range info.State.Subjects {
		nuid := strings.TrimPrefix(subj, prefix)
		if used[nuid] {
			continue
		}
		last, err := stream.GetLastMsgForSubject(ctx, subj)
		if err != nil || p.opts.Now().Sub(last.Time) < olderThan {
			continue // gone meanwhile, or a Put still writing
		}
		// A Put that committed since the listing references it now.
		if objs, err := p.obs.List(ctx, jetstream.ListObjectsShowDeleted()); err == nil && referenced(objs, nuid) {
			continue
		}
		if err := stream.Purge(ctx, jetstream.WithPurgeSubject(subj)); err != nil {
			return n, fmt.Errorf("archive: removing orphaned chunks %s: %w", subj, err)
		}
		n++
	}
	return n, nil
}

func referenced(objs []*jetstream.ObjectInfo, nuid string) bool {
	for _, o := range objs {
		if o.NUID == nuid {
			return true
		}
	}
	return false
}
