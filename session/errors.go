package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/oauth2"
)

// Kind says how a token failure should be handled.
type Kind int

const (
	// KindTransient: a 5xx answer, a network error or a timeout; retried
	// with a short backoff.
	KindTransient Kind = iota
	// KindCredential: Zoom rejected the request (4xx): wrong client id or
	// secret, a deleted or deactivated app, a wrong account id, a revoked
	// refresh token. A person has to act; it is retried all the same (at
	// most MaxRetryWait apart), since the fix can come at any moment.
	KindCredential
)

func (k Kind) String() string {
	if k == KindCredential {
		return "credential"
	}
	return "transient"
}

// Labels of zccingest_token_errors_total{kind} besides those of OAuthErrors.
const (
	LabelInvalidClient  = "invalid_client"
	LabelInvalidAccount = "invalid_account"
	LabelInvalidGrant   = "invalid_grant"
	LabelRejected       = "rejected" // any other 4xx
	LabelServer         = "server_error"
	LabelNetwork        = "network"
	LabelTimeout        = "timeout"
	LabelRefreshFile    = "refresh_token_file"
)

// An OAuthError is one of Zoom's OAuth error codes that mean a person must
// re-authorise the app: retrying cannot help until they do.
type OAuthError struct {
	Code   int
	Label  string // the metric's kind
	Means  string
	Action string
}

// OAuthErrors are Zoom's OAuth errors that need a person (Zoom's OAuth
// error page).
var OAuthErrors = []OAuthError{
	{4735, "token_owner_gone", "the user who authorised the app no longer exists", "an admin must authorise the app again (Marketplace, the app, Manage, re-authorise) and, for an OAuth app, run 'zccingest token exchange' with the new code"},
	{4737, "authentication_not_found", "Zoom has no authorisation for this app", "authorise the app again in the Marketplace (and for an OAuth app run 'zccingest token exchange')"},
	{4738, "disabled_by_admin", "an admin disabled this app's token", "an admin must enable the app again and authorise it"},
	{4740, "out_of_tolerance", "the token is out of Zoom's tolerance range", "check this host's clock (NTP), then authorise the app again"},
	{4741, "revoked", "the authorisation was revoked by a newer one", "use the newest authorisation: run 'zccingest token exchange' with its code, or remove the other installation"},
	{4711, "scope_mismatch", "the app's scopes no longer match the authorisation", "authorise the app again so that it is granted the scopes it now asks for"},
}

var oauthCodeRE = regexp.MustCompile(`\b47(35|37|38|40|41|11)\b`)

// Explain finds one of Zoom's OAuth errors that need a person in text (a
// token response's fields, a build_connection's content): Zoom's wording
// changes, the codes do not.
func Explain(text string) (OAuthError, bool) {
	m := oauthCodeRE.FindString(text)
	if m == "" {
		return OAuthError{}, false
	}
	code, _ := strconv.Atoi(m)
	for _, e := range OAuthErrors {
		if e.Code == code {
			return e, true
		}
	}
	return OAuthError{}, false
}

// Error is a failed token request, its text free of secrets.
type Error struct {
	Kind   Kind
	Status int    // HTTP status, 0 for a network error
	Code   string // Zoom's "error", such as invalid_client
	Reason string // Zoom's "reason", such as "Invalid client_id or client_secret"
	Label  string // zccingest_token_errors_total's kind: bounded, ours
	Advice string // what a person should do, if anything
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
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return &Error{Kind: KindTransient, Label: LabelTimeout, msg: "session: token request timed out: " + s.Redact(err.Error()), err: err}
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil {
		return &Error{Kind: KindTransient, Label: LabelNetwork, msg: "session: token request: " + s.Redact(err.Error()), err: err}
	}
	e = &Error{Status: re.Response.StatusCode, Code: re.ErrorCode, err: err}
	var body struct {
		Reason  string          `json:"reason"`
		Error   string          `json:"error"`
		Message string          `json:"message"`
		Code    json.RawMessage `json:"code"`
	}
	if json.Unmarshal(re.Body, &body) == nil {
		e.Reason = body.Reason
		if e.Reason == "" {
			e.Reason = body.Message
		}
		if e.Code == "" {
			e.Code = body.Error
		}
	}
	if e.Reason == "" {
		e.Reason = re.ErrorDescription
	}
	e.Reason, e.Code = s.Redact(e.Reason), s.Redact(e.Code)
	switch {
	case e.Status >= 400 && e.Status < 500:
		e.Kind = KindCredential
		e.Label, e.Advice = LabelRejected, "check the app's client id, secret and account id, and that the app is activated"
		switch {
		case e.Code == "invalid_client":
			e.Label = LabelInvalidClient
		case strings.Contains(strings.ToLower(e.Reason), "account does not exist"):
			e.Label, e.Advice = LabelInvalidAccount, "check zoom.account_id: it is the Account ID on the app's App Credentials page"
		case e.Code == "invalid_grant" || strings.Contains(e.Reason, "Invalid Token"):
			e.Label, e.Advice = LabelInvalidGrant, "the refresh token was refused: run 'zccingest token exchange' with a new authorisation code"
		}
		if oe, ok := Explain(string(body.Code) + " " + e.Reason + " " + e.Code); ok {
			e.Label, e.Advice = oe.Label, oe.Action
			e.Reason = fmt.Sprintf("%s (%d: %s)", e.Reason, oe.Code, oe.Means)
		}
		e.msg = fmt.Sprintf("session: Zoom rejected the credentials (HTTP %d %s): %s; %s", e.Status, e.Code, e.Reason, e.Advice)
	default:
		e.Kind, e.Label = KindTransient, LabelServer
		e.msg = fmt.Sprintf("session: token endpoint failed (HTTP %d %s) %s", e.Status, e.Code, e.Reason)
	}
	e.msg = s.Redact(strings.TrimSpace(e.msg))
	return e
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
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
