package session

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// ServerToServer is a Server-to-Server OAuth app's credentials.
type ServerToServer struct {
	AccountID    string
	ClientID     string
	ClientSecret string
	TokenURL     string // https://zoom.us/oauth/token
}

// NewServerToServer returns a Source of account-credentials tokens: a POST to
// TokenURL with grant_type=account_credentials and account_id in the form
// body, the client id and secret in a Basic header.
func NewServerToServer(c ServerToServer, opts Options) *Source {
	cc := &clientcredentials.Config{
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret,
		TokenURL:     c.TokenURL,
		// clientcredentials lets EndpointParams override grant_type.
		EndpointParams: url.Values{"grant_type": {"account_credentials"}, "account_id": {c.AccountID}},
		AuthStyle:      oauth2.AuthStyleInHeader,
	}
	fetch := func(ctx context.Context, client *http.Client) (*oauth2.Token, error) {
		return cc.Token(context.WithValue(ctx, oauth2.HTTPClient, client))
	}
	return newSource(fetch, opts, c.ClientSecret, basicAuth(c.ClientID, c.ClientSecret))
}

// basicAuth is the Authorization header's credential, itself a secret.
func basicAuth(id, secret string) string {
	return base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
}
