package zoomrest

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests *prometheus.CounterVec
	wait     prometheus.Counter
}

// newMetrics registers the client's metrics; a second client on the same
// registerer shares the first one's.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zccingest_rest_requests_total",
			Help: "Zoom REST requests, by endpoint (engagements, engagement, recording_status, recordings, status_history, users) and HTTP status (error: no response).",
		}, []string{"endpoint", "code"}),
		wait: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "zccingest_rest_wait_seconds_total",
			Help: "Seconds Zoom REST calls waited for rate limits: the own budget, Zoom's per-second pace and 429s, retries.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	if err := reg.Register(m.requests); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, fmt.Errorf("zoomrest: registering metrics: %w", err)
		}
		m.requests = are.ExistingCollector.(*prometheus.CounterVec)
	}
	if err := reg.Register(m.wait); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, fmt.Errorf("zoomrest: registering metrics: %w", err)
		}
		m.wait = are.ExistingCollector.(prometheus.Counter)
	}
	return m, nil
}
