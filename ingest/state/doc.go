// Package state keeps the live state of a contact center in NATS KV: every
// agent (ZOOM_AGENTS) and every engagement (ZOOM_ENGAGEMENTS), keys
// <account>.<id>, JSON values of the types Agent and Engagement.
//
// A Builder reads the events stream with a durable JetStream consumer
// (zccingest-state), so that live events, a replay, events rebuilt from
// Zoom's REST API (Zoom-Source: rest) and the events of a restart's backlog
// all reach the state the same way, and event intake never waits for a KV
// write.
//
// # The merge rule
//
// Zoom does not promise order, a 1+1 pair's two builders share the
// consumer, and an event may be applied twice (a redelivery after a crash,
// a rebuilt copy). The state is therefore a commutative, idempotent merge of
// the events, not a replay in arrival order: whatever the order and however
// often each event is applied, the same events give the same value.
//
//   - Every event has a stamp: (event_ts, event id), compared by event_ts
//     and then by id (Nats-Msg-Id). A REST snapshot's stamp is the time its
//     request started, with an empty id: a live event of the same
//     millisecond wins over it.
//   - Each attribute is a register that keeps the value of the newest stamp
//     that set it (last writer wins per attribute): an agent's login, its
//     status and sub-status, its name; an engagement's channel, direction,
//     queue, flow, consumer, hold, wrap-up, transfer step, monitor and
//     recording state. An event that does not carry a field does not clear
//     it.
//   - Sets (the agents on an engagement, the engagements an agent holds,
//     the conference participants) keep a register per member: in or out,
//     with the stamp that set it; a conference_canceled removes every
//     participant stamped before it. An agent's value forgets an engagement
//     ForgetAfter (an hour) after it left it.
//   - Answered and ended are facts that only ever become true: a late event
//     cannot reopen an ended engagement. When an engagement has ended, every
//     agent on it gets "out" with the end's stamp, and an agent that joins
//     it with an older stamp gets that "out" instead, so the order of the
//     end and the answer does not matter.
//   - "Logged out at T" is the login register set to false at T: a status
//     change or login stamped before T cannot log the agent back in.
//   - Each value carries event_id and event_ts: the newest event applied
//     to it (source "rest" when that was a REST snapshot or a rebuilt
//     event).
//
// Events that share a millisecond are ordered by their id, which is not
// Zoom's order: two changes of one attribute within the same millisecond
// may keep the one Zoom sent first.
//
// Ended engagements are swept EndedTTL after their end (a sweeper: NATS's
// per-key TTL belongs to the message that creates a key, and an engagement
// is created open); the purge marker keeps late events of a swept
// engagement out for TombstoneTTL.
//
// A REST snapshot of the agents (Refresh) is stamped with the time its
// request started, so that events from then on win over it.
//
// Every KV write is a compare-and-set (kv.Create for a new key, kv.Update
// with the revision read), retried on conflict, so two writers never lose
// each other's update; a write that changes nothing is skipped.
package state
