package archive

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	polls            *prometheus.CounterVec
	stored           prometheus.Counter
	bytes            prometheus.Counter
	downloadFailures *prometheus.CounterVec
	skipped          *prometheus.CounterVec
	rateLimited      prometheus.Counter
	pageRestarts     prometheus.Counter
	pending          prometheus.Gauge
	position         prometheus.Gauge
	lastSuccess      prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zccingest_archive_polls_total", Help: "Archive polls, by result (ok, error, skipped: another poller held the lease).",
		}, []string{"result"}),
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "zccingest_archive_files_stored_total", Help: "Archived files stored and announced.",
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "zccingest_archive_bytes_stored_total", Help: "Bytes of archived files stored.",
		}),
		downloadFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zccingest_archive_download_failures_total", Help: "Failed downloads, by reason (http, network, stalled, size, digest, store).",
		}, []string{"reason"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zccingest_archive_files_skipped_total", Help: "List entries that cannot be fetched, by reason (bad_entry, zoom_failed).",
		}, []string{"reason"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "zccingest_archive_rate_limited_total", Help: "429 responses from Zoom waited out.",
		}),
		pageRestarts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "zccingest_archive_page_token_restarts_total", Help: "Windows listed again because Zoom's next_page_token expired.",
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "zccingest_archive_files_pending", Help: "Files the last poll could not store yet (processing at Zoom, or failed here).",
		}),
		position: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "zccingest_archive_position_timestamp_seconds", Help: "Where the next poll starts (Unix time).",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "zccingest_archive_last_success_timestamp_seconds", Help: "End of the last poll that stored everything it listed.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.polls, m.stored, m.bytes, m.downloadFailures, m.skipped, m.rateLimited, m.pageRestarts, m.pending, m.position, m.lastSuccess} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("archive: registering metrics: %w", err)
		}
	}
	for _, r := range []string{"http", "network", "stalled", "size", "digest", "store"} {
		m.downloadFailures.WithLabelValues(r)
	}
	return m, nil
}
