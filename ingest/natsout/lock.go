package natsout

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockStore takes an exclusive lock on the embedded server's store, held
// until the returned file is closed (the kernel drops it when the process
// dies, kill -9 included). A second server on the same JetStream files
// (a replay or a second run given the service's config) loses and
// duplicates acknowledged events; it is refused instead, naming the holder.
func lockStore(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("natsout: nats.embedded.store_dir: %w", err)
	}
	path := filepath.Join(dir, "zccingest.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("natsout: nats.embedded.store_dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := "another process"
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
				holder = fmt.Sprintf("process %d", pid)
			}
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("natsout: nats.embedded.store_dir %s is in use by %s (a running zccingest): connect to its server at nats.embedded.listen instead of starting a second one", dir, holder)
		}
		return nil, fmt.Errorf("natsout: locking nats.embedded.store_dir %s: %w", dir, err)
	}
	f.Truncate(0)
	f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	return f, nil
}
