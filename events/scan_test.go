package events

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// FuzzScan checks the hot path's walker against gjson and encoding/json on
// whatever valid JSON object the fuzzer finds: the same members, the same
// raw values, and the same decoded strings.
func FuzzScan(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":"x\"y","c":{"d":[1,{"e":"}"}]},"f":null,"g":true}`))
	f.Add([]byte(`{ "k\u00e9y" : "\ud83d\ude00 \ud800 \\ \/ \b\f\n\r\t" , "n":-1.5e3 }`))
	f.Add([]byte(`{}`))
	f.Add([]byte(" {\"content\":\"{\\\"event\\\":\\\"x\\\"}\"}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// The decoder checks UTF-8 before it validates JSON.
		if !utf8.Valid(b) || !gjson.ValidBytes(b) || b[skipSpace(b, 0)] != '{' {
			return
		}
		type member struct{ key, raw string }
		var want []member
		gjson.ParseBytes(b).ForEach(func(k, v gjson.Result) bool {
			want = append(want, member{k.Str, v.Raw})
			return true
		})
		var got []member
		scanObject(b, func(k, v []byte) bool {
			var key string
			if err := json.Unmarshal(k, &key); err != nil {
				t.Fatalf("key %q is not a string literal: %v", k, err)
			}
			if u := string(unquote(k)); u != key {
				t.Fatalf("unquote(%q) = %q, encoding/json says %q", k, u, key)
			}
			got = append(got, member{key, string(v)})
			if v[0] == '"' {
				var s string
				json.Unmarshal(v, &s)
				if u := string(unquote(v)); u != s {
					t.Fatalf("unquote(%q) = %q, encoding/json says %q", v, u, s)
				}
			}
			return true
		})
		if len(got) != len(want) {
			t.Fatalf("scanObject found %d members, gjson %d: %q", len(got), len(want), b)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("member %d = %q, gjson says %q", i, got[i], want[i])
			}
		}
	})
}
