package config

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Secret is a string that never prints: a client secret, a password.
type Secret string

func (Secret) String() string { return "<redacted>" }

// MarshalYAML keeps a dumped config free of secrets.
func (Secret) MarshalYAML() (any, error) { return "<redacted>", nil }

// Duration is a time.Duration written as "25s", "2m".
type Duration time.Duration

func (d Duration) D() time.Duration { return time.Duration(d) }

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	s, err := expand(n.Value)
	if err != nil {
		return lineError(n, err.Error())
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return lineError(n, fmt.Sprintf("%q is not a duration such as 25s or 2m", s))
	}
	*d = Duration(v)
	return nil
}

func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Size is a byte count written as a number or with a unit: 64MiB, 512KiB.
type Size int64

func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := expand(n.Value)
	if err != nil {
		return lineError(n, err.Error())
	}
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if num, ok := strings.CutSuffix(v, u.suffix); ok {
			v, mult = strings.TrimSpace(num), u.mult
			break
		}
	}
	i, err := strconv.ParseInt(v, 10, 64)
	if err != nil || i < 0 {
		return lineError(n, fmt.Sprintf("%q is not a size such as 64MiB", n.Value))
	}
	*s = Size(i * mult)
	return nil
}

func lineError(n *yaml.Node, msg string) error {
	return &Error{Msg: fmt.Sprintf("line %d: %s", n.Line, msg)}
}

// expand replaces ${VAR} with the environment's value; an unset variable is
// an error, since an empty credential would only fail later and less clearly.
func expand(s string) (string, error) {
	var missing []string
	out := envRE.ReplaceAllStringFunc(s, func(ref string) string {
		name := ref[2 : len(ref)-1]
		v, ok := os.LookupEnv(name)
		if !ok {
			missing = append(missing, ref)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("environment variable %s is not set", strings.Join(missing, ", "))
	}
	return out, nil
}

// Only ${NAME} is expanded: a lone $ in a secret stays as it is.
var envRE = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*\}`)

// expandStrings expands ${VAR} in every string field, naming the key of a
// field whose variable is unset.
func expandStrings(v reflect.Value, key string) error {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			return expandStrings(v.Elem(), key)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			k := name
			if key != "" {
				k = key + "." + name
			}
			if err := expandStrings(v.Field(i), k); err != nil {
				return err
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			if err := expandStrings(v.Index(i), fmt.Sprintf("%s[%d]", key, i)); err != nil {
				return err
			}
		}
	case reflect.String:
		s, err := expand(v.String())
		if err != nil {
			return &Error{Key: key, Msg: err.Error()}
		}
		v.SetString(s)
	}
	return nil
}
