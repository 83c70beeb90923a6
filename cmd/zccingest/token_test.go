package main

import (
	"io"
	"strings"
	"testing"
)

func TestAuthCode(t *testing.T) {
	env := func(v string) func(string) string { return func(string) string { return v } }
	for _, tc := range []struct {
		name, flag, env, stdin, want, err string
	}{
		{name: "flag", flag: "f-code", want: "f-code"},
		{name: "environment", env: "e-code", stdin: "s-code\n", want: "e-code"},
		{name: "standard input", stdin: "  s-code \n", want: "s-code"},
		{name: "dash reads standard input", flag: "-", env: "e-code", stdin: "s-code", want: "s-code"},
		{name: "nothing", err: "no authorization code"},
		{name: "not a token", stdin: "a b\n", err: "not a plain token"},
		{name: "escape sequence", stdin: "code\x1b[2J\n", err: "not a plain token"},
		{name: "endless input", stdin: strings.Repeat("x", 1<<20), err: "not a plain token"},
	} {
		got, err := authCode(tc.flag, env(tc.env), strings.NewReader(tc.stdin), io.Discard)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %q, %v; want error %q", tc.name, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}
