package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/oauth2"
)

// Kind says how a token failure should be handled.
type Kind int

const (
	// KindTransient: a 5xx answer or a network error; retried with a short backoff.
	KindTransient Kind = iota
	// KindCredential: Zoom rejected the request (4xx): wrong client id or
	// secret, a deleted or deactivated app, a wrong account id, a revoked
	// refresh token. Retrying soon will not help; it is retried slowly.
	KindCredential
)

func (k Kind) String() string {
	if k == KindCredential {
		return "credential"
	}
	return "transient"
}

// Error is a failed token request, its text free of secrets.
type Error struct {
	Kind   Kind
	Status int    // HTTP status, 0 for a network error
	Code   string // Zoom's "error", such as invalid_client
	Reason string // Zoom's "reason", such as "Invalid client_id or client_secret"
	msg    string
	err    error
}

func (e *Error) Error() string { return e.msg }
func (e *Error) Unwrap() error { return e.err }

// classify turns a fetch error into an *Error with a redacted message.
func (s *Source) classify(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &Error{Kind: KindTransient, msg: "session: token request: " + s.Redact(err.Error()), err: err}
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil {
		return &Error{Kind: KindTransient, msg: "session: token request: " + s.Redact(err.Error()), err: err}
	}
	e = &Error{Status: re.Response.StatusCode, Code: re.ErrorCode, err: err}
	var body struct {
		Reason string `json:"reason"`
		Error  string `json:"error"`
	}
	if json.Unmarshal(re.Body, &body) == nil {
		e.Reason = body.Reason
		if e.Code == "" {
			e.Code = body.Error
		}
	}
	if e.Reason == "" {
		e.Reason = re.ErrorDescription
	}
	e.Reason, e.Code = s.Redact(e.Reason), s.Redact(e.Code)
	if e.Status >= 400 && e.Status < 500 {
		e.Kind = KindCredential
		e.msg = fmt.Sprintf("session: Zoom rejected the credentials (HTTP %d %s): %s; check the app's client id, secret and account id, and that the app is activated",
			e.Status, e.Code, e.Reason)
	} else {
		e.Kind = KindTransient
		e.msg = fmt.Sprintf("session: token endpoint failed (HTTP %d %s) %s", e.Status, e.Code, e.Reason)
	}
	e.msg = s.Redact(strings.TrimSpace(e.msg))
	return e
}

var tokenParamRE = regexp.MustCompile(`((?:access_token|refresh_token|client_secret|code)=)[^&\s"']+`)

// RedactString hides every secret in s, and the value of any access_token,
// refresh_token, client_secret or code parameter, whatever the URL.
func RedactString(s string, secrets ...string) string {
	s = tokenParamRE.ReplaceAllString(s, "${1}REDACTED")
	for _, secret := range secrets {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, "REDACTED")
		}
	}
	return s
}
