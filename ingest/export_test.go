package ingest

import "time"

// SetDrainTimeout shortens the drain deadline, which is 30 s in service.
func SetDrainTimeout(in *Ingester, d time.Duration) { in.drainTimeout = d }
