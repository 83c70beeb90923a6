package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// RebuiltEvent returns the event a live frame would have carried, from the
// fields Zoom's REST API gives back: the envelope is built in Zoom's shape
// ({"event", "event_ts", "payload": {"account_id", "object"}}) and decoded
// by ParseEvent, so that a rebuilt event is read by the same code, typed
// structs and subjects as a live one. object is the JSON of payload.object.
func RebuiltEvent(name string, ts int64, account string, object any) (*Event, error) {
	obj, err := json.Marshal(object)
	if err != nil {
		return nil, fmt.Errorf("events: rebuilding %s: encoding the object: %w", name, err)
	}
	env, err := json.Marshal(struct {
		Event   string `json:"event"`
		EventTS int64  `json:"event_ts"`
		Payload struct {
			AccountID string          `json:"account_id"`
			Object    json.RawMessage `json:"object"`
		} `json:"payload"`
	}{Event: name, EventTS: ts, Payload: struct {
		AccountID string          `json:"account_id"`
		Object    json.RawMessage `json:"object"`
	}{account, obj}})
	if err != nil {
		return nil, fmt.Errorf("events: rebuilding %s: %w", name, err)
	}
	return ParseEvent(env)
}

// RebuiltKey is the de-duplication key of an event rebuilt from Zoom's REST
// API: a digest of what identifies the event, not of how it was mapped —
// account, event name, event_ts and the ids it is about (the engagement's,
// the user's, a conference invitee's). The pair's two nodes, or a second
// run over the same gap, get the same key and JetStream keeps one copy.
// It never equals a live event's key, which digests the whole object.
func RebuiltKey(account, name string, ts int64, ids ...string) string {
	b := make([]byte, 0, 128)
	b = append(b, "rest\x00"...)
	b = append(b, account...)
	b = append(b, 0)
	b = append(b, name...)
	b = append(b, 0)
	b = strconv.AppendInt(b, ts, 10)
	for _, id := range ids {
		b = append(b, 0)
		b = append(b, id...)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:keyLen/2])
}

// RebuiltMessage returns the message of an event rebuilt from Zoom's REST
// API: the live event's subject, headers and body, with key (RebuiltKey) as
// its id, header Zoom-Source: rest and body field "source": "rest". It has
// no subscription (the header is left out, the body's is ""). rebuiltAt
// stands in for the time received.
//
// It is built by Message, so the live hot path is the only place a
// message is laid out; the few changes are made on the result.
func (e *Event) RebuiltMessage(prefix, key string, rebuiltAt time.Time) (*Message, error) {
	if len(key) != keyLen {
		return nil, errors.New("events: a rebuilt event's key must be RebuiltKey's")
	}
	m, err := e.Message(prefix, "", rebuiltAt)
	if err != nil {
		return nil, err
	}
	// The body begins {"id":"<key>", written by appendBody.
	const idAt = len(`{"id":"`)
	if len(m.Data) < idAt+keyLen+1 || !bytes.Equal(m.Data[idAt:idAt+keyLen], []byte(m.ID)) || m.Data[len(m.Data)-1] != '}' {
		return nil, errors.New("events: unexpected message body layout")
	}
	body := make([]byte, 0, len(m.Data)+len(`,"source":"rest"`))
	body = append(body, m.Data[:idAt]...)
	body = append(body, key...)
	body = append(body, m.Data[idAt+keyLen:len(m.Data)-1]...)
	body = append(body, `,"source":"`+SourceREST+`"}`...)
	h := make(Header, len(m.Header)+1)
	for k, v := range m.Header {
		h[k] = v
	}
	delete(h, HeaderSubscription)
	h[HeaderMsgID] = []string{key}
	if _, ok := h[HeaderCEID]; ok {
		h[HeaderCEID] = []string{key}
	}
	h[HeaderSource] = []string{SourceREST}
	return &Message{Subject: m.Subject, ID: key, Header: h, Data: body}, nil
}
