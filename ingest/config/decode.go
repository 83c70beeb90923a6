package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds the configuration file: a path such as /dev/zero must
// be refused, not read until memory runs out.
const MaxFileSize = 1 << 20

// readFile reads at most MaxFileSize bytes of path.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{Msg: err.Error()}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, &Error{Msg: fmt.Sprintf("reading %s: %v", path, err)}
	}
	if len(data) > MaxFileSize {
		return nil, &Error{Msg: fmt.Sprintf("%s is larger than %d KiB; that is no configuration file", path, MaxFileSize>>10)}
	}
	return data, nil
}

// A decoder walks the YAML tree against the Config type before yaml.v3
// decodes it, so that every error names its key: yaml.v3 says only "line N",
// truncates 1.5 into an int, and knows nothing of ${VAR}. It expands ${VAR}
// in every scalar, whatever the field's type, and remembers which keys the
// file set, so that an explicit zero is validated rather than defaulted.
type decoder struct {
	present map[string]bool
	env     map[string]string // a value taken from the environment -> ${NAME}
}

// parseTree decodes data into c through the checks of walk.
func parseTree(data []byte, c *Config) (*decoder, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{Msg: "the file is empty"}
		}
		return nil, &Error{Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, &Error{Msg: "the file holds more than one YAML document (a second \"---\"); keep the configuration in one"}
	}
	d := &decoder{present: map[string]bool{}, env: map[string]string{}}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if doc.Kind == yaml.ScalarNode && doc.ShortTag() == "!!null" {
		return nil, &Error{Msg: "the file is empty"}
	}
	if err := d.walk(doc, reflect.TypeOf(c).Elem(), ""); err != nil {
		return nil, err
	}
	if err := doc.Decode(c); err != nil {
		// walk has checked every scalar; what is left is yaml.v3's own
		// wording, which quotes no value of ours.
		return nil, &Error{Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	return d, nil
}

func join(key, name string) string {
	if key == "" {
		return name
	}
	return key + "." + name
}

var (
	durationType = reflect.TypeOf(Duration(0))
	sizeType     = reflect.TypeOf(Size(0))
)

func (d *decoder) walk(n *yaml.Node, t reflect.Type, key string) error {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return errorf(key, "YAML anchors and aliases are not supported in the configuration")
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil // the key without a value: as if absent
	}
	switch {
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return errorf(key, "must be a mapping of keys")
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return errorf(key, "a key must be a plain name")
			}
			name := k.Value
			sub := join(key, boundedKey(name))
			f, ok := fieldByTag(t, name)
			if !ok {
				return errorf(sub, "unknown key")
			}
			if seen[name] {
				return errorf(sub, "set twice")
			}
			seen[name] = true
			d.present[sub] = true
			if err := d.walk(v, f.Type, sub); err != nil {
				return err
			}
		}
		return nil
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return errorf(key, "must be a list")
		}
		for i, e := range n.Content {
			if err := d.walk(e, t.Elem(), fmt.Sprintf("%s[%d]", key, i)); err != nil {
				return err
			}
		}
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return errorf(key, "must be a single value, not a list or mapping")
	}
	fromEnv := strings.Contains(n.Value, "${")
	v, err := d.expand(n.Value)
	if err != nil {
		return &Error{Key: key, Msg: err.Error()}
	}
	show := func() string {
		if fromEnv {
			return "the value taken from the environment"
		}
		if len(v) > 64 {
			return strconv.Quote(v[:64] + "…")
		}
		return strconv.Quote(v)
	}
	n.Value = v
	switch {
	case t == durationType:
		if _, err := parseDuration(v); err != nil {
			return errorf(key, "%s is not a duration such as 25s or 2m", show())
		}
	case t == sizeType:
		if _, err := parseSize(v); err != nil {
			return errorf(key, "%s is not a size such as 64MiB (%v)", show(), err)
		}
	case t.Kind() == reflect.String:
		n.Tag, n.Style = "!!str", 0
		return nil
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		i, err := strconv.ParseInt(strings.TrimSpace(v), 10, t.Bits())
		if err != nil {
			return errorf(key, "%s is not a whole number that fits (up to %d)", show(), int64(math.MaxInt64>>(64-t.Bits())))
		}
		n.Value = strconv.FormatInt(i, 10)
	case t.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return errorf(key, "%s is not true or false", show())
		}
		n.Value = strconv.FormatBool(b)
	default:
		return errorf(key, "cannot be set from the file")
	}
	n.Tag, n.Style = "", 0 // resolve again: a quoted "${N}" may be a number
	return nil
}

// fieldByTag finds the struct field of a yaml key.
func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == name && tag != "" && tag != "-" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// boundedKey keeps an unknown key from the file printable and short.
func boundedKey(k string) string {
	if len(k) > 64 {
		k = k[:64] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, k)
}

// expand replaces ${VAR} with the environment's value; an unset variable is
// an error, since an empty credential would only fail later and less clearly.
// Expanded values are remembered so that no error quotes them.
func (d *decoder) expand(s string) (string, error) {
	var missing []string
	out := envRE.ReplaceAllStringFunc(s, func(ref string) string {
		name := ref[2 : len(ref)-1]
		v, ok := os.LookupEnv(name)
		if !ok {
			missing = append(missing, ref)
		}
		if v != "" {
			d.env[v] = ref
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("environment variable %s is not set", strings.Join(missing, ", "))
	}
	return out, nil
}

// redact takes every value that came from the environment out of err's
// message: a secret set at the wrong key must not be printed by the error
// that says so.
func (d *decoder) redact(err *Error) *Error {
	for v, ref := range d.env {
		if len(v) >= 3 {
			err.Msg = strings.ReplaceAll(err.Msg, v, ref)
		}
	}
	return err
}

func parseDuration(s string) (time.Duration, error) {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	if v < 0 {
		return 0, errors.New("negative")
	}
	return v, nil
}

func parseSize(s string) (int64, error) {
	v := strings.TrimSpace(s)
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
		return 0, errors.New("a whole number of bytes, KiB, MiB or GiB")
	}
	if i > math.MaxInt64/mult {
		return 0, errors.New("too large")
	}
	return i * mult, nil
}
