package config

import (
	"regexp"
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
	v, err := parseDuration(n.Value) // checked by decoder.walk, with the key
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Size is a byte count written as a number or with a unit: 64MiB, 512KiB.
type Size int64

func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseSize(n.Value) // checked by decoder.walk, with the key
	if err != nil {
		return err
	}
	*s = Size(v)
	return nil
}

// Only ${NAME} is expanded: a lone $ in a secret stays as it is.
var envRE = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*\}`)
