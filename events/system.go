package events

import (
	"strconv"
)

// System message kinds: the last token of <prefix>.<account>.system.<kind>.
const (
	// SystemGap: no subscription of the account was open on any node.
	SystemGap = "gap"
	// SystemInterruption: one subscription was closed while another of
	// the account carried the events (a pair running on one leg).
	SystemInterruption = "interruption"
	// SystemReconciled: what the REST reconciliation of a gap recovered,
	// and what it could not.
	SystemReconciled = "reconciled"
)

// HeaderSource says where an event came from: SourceREST for an event
// rebuilt from Zoom's REST API. Live events carry no such header.
const (
	HeaderSource = "Zoom-Source"
	SourceREST   = "rest"
)

// SystemSubject returns <prefix>.<account>.system.<kind>, the account made a
// subject token as on event subjects.
func SystemSubject(prefix, account, kind string) string {
	return AccountSubject(prefix, account, "system."+string(appendToken(nil, kind)))
}

// AccountSubject returns <prefix>.<account>.<rest>, the account made a
// subject token as on event subjects: for a filter on one account's
// events (rest "cc.>").
func AccountSubject(prefix, account, rest string) string {
	b := make([]byte, 0, len(prefix)+len(account)+len(rest)+2)
	b = append(b, prefix...)
	b = append(b, '.')
	b = appendToken(b, account)
	b = append(b, '.')
	b = append(b, rest...)
	return string(b)
}

// ConnectionSubject returns <prefix>.system.connection, where every
// subscription's connection state changes are published.
func ConnectionSubject(prefix string) string { return prefix + ".system.connection" }

// A Gap is the body of a message on the gap or interruption subject: an
// interval, in Unix milliseconds, in which the account's events (a gap) or
// one subscription's (an interruption) were not received.
type Gap struct {
	ID        string `json:"id"`   // also the Nats-Msg-Id; see GapID
	Kind      string `json:"kind"` // SystemGap or SystemInterruption
	AccountID string `json:"account_id"`
	// From is when the last open socket closed (or, for a process that
	// was down, the last moment its ledger shows it covering); To is when
	// the first socket opened again.
	From int64 `json:"from"`
	To   int64 `json:"to"`
	// Subscriptions are those involved: for a gap every subscription of
	// the account the ledger knows, for an interruption the one that was
	// down.
	Subscriptions []string `json:"subscriptions"`
	Nodes         []string `json:"nodes"`
	// Cause is "disconnected" (sockets closed) or "process_down" (found
	// on start from the persisted ledger).
	Cause string `json:"cause"`
}

// GapID is the deterministic id of a gap or interruption, equal on every
// node that finds it: kind, account, bounds and (for an interruption) the
// subscription.
func GapID(kind, account string, from, to int64, subscription string) string {
	b := make([]byte, 0, 96)
	b = append(b, kind...)
	b = append(b, '-')
	b = appendToken(b, account)
	b = append(b, '-')
	b = strconv.AppendInt(b, from, 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, to, 10)
	if subscription != "" {
		b = append(b, '-')
		b = appendToken(b, subscription)
	}
	return string(b)
}

// A ConnectionChange is the body of a message on the connection subject.
type ConnectionChange struct {
	Node         string `json:"node"`
	AccountID    string `json:"account_id"`
	Subscription string `json:"subscription"`
	State        string `json:"state"` // "open" or "closed"
	At           int64  `json:"at"`    // Unix milliseconds
	Reason       string `json:"reason,omitempty"`
}

// Reconciled is the body of a message on the reconciled subject: the
// outcome of rebuilding one gap from Zoom's REST API.
type Reconciled struct {
	GapID     string `json:"gap_id"`
	AccountID string `json:"account_id"`
	From      int64  `json:"from"` // the interval queried, margin included
	To        int64  `json:"to"`
	// Recovered counts the events published, by event name.
	Recovered map[string]int `json:"recovered"`
	// Skipped counts rebuilt events not published because they were
	// received live (or outside the gap), by event name.
	Skipped map[string]int `json:"skipped,omitempty"`
	// NotRecoverable names each event kind Zoom's REST API cannot give
	// back, with why.
	NotRecoverable map[string]string `json:"not_recoverable"`
	Requests       int               `json:"requests"`
	Errors         []string          `json:"errors,omitempty"`
	Complete       bool              `json:"complete"`
}

// KeyToken makes s one token of a KV key or a subject, the same on every
// node: characters other than [A-Za-z0-9_-] become '_', it is cut to max
// bytes, and "" becomes "_". (Subject tokens of events keep more
// characters: see Subject.)
func KeyToken(s string, max int) string {
	if len(s) > max {
		s = s[:max]
	}
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}
