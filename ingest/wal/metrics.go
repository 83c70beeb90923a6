package wal

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	errors      *prometheus.CounterVec // reason: full, write, sync, ack
	recovered   prometheus.Counter
	damaged     prometheus.Counter
	syncSeconds prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, l *Log) metrics {
	m := metrics{
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zccingest_wal_errors_total",
			Help: "Write-ahead log failures by reason: full and write (the event is held in memory only), sync (an fsync failed), ack (the acknowledged position was not saved).",
		}, []string{"reason"}),
		recovered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "zccingest_wal_recovered_total",
			Help: "Records a previous process left unacknowledged, read back at start to be published again.",
		}),
		damaged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "zccingest_wal_damaged_total",
			Help: "Records found damaged at start (a torn write after a power loss) and skipped.",
		}),
		syncSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "zccingest_wal_fsync_seconds",
			Help:    "Duration of the background fsync of the write-ahead log.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9),
		}),
	}
	for _, r := range []string{"full", "write", "sync", "ack"} {
		m.errors.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.errors, m.recovered, m.damaged, m.syncSeconds,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "zccingest_wal_bytes", Help: "Bytes of the write-ahead log's segment files.",
			}, func() float64 { return float64(l.Bytes()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "zccingest_wal_max_bytes", Help: "wal.max_bytes: where appends fail and events are held in memory only.",
			}, func() float64 { return float64(l.opts.MaxBytes) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "zccingest_wal_pending", Help: "Records written and not yet acknowledged by NATS.",
			}, func() float64 { return float64(l.Pending()) }),
		)
	}
	return m
}
