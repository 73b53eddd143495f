// Package config loads murmur's YAML configuration into Go structs with
// errors that name the offending key and value, and applies MURMUR_*
// environment overrides.
//
// Decoding is driven by the `yaml` struct tags of the target: a key that no
// field carries is an error ("unknown key"), and a value of the wrong shape is
// an error naming the full key path (for example "nat.autonat: invalid
// value \"maybe\": want true or false"). Fields missing from the file keep
// whatever the target held before, so callers decode over their defaults.
package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// DecodeYAML decodes data into out (a pointer to a struct), over the values
// out already holds. Unknown keys and bad values are errors that name the key
// path and, where there is one, the line.
func DecodeYAML(data []byte, out any) error {
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("config: decode target must be a pointer to a struct, got %T", out)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // empty file: all defaults
		}
		return fmt.Errorf("parse YAML: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return fmt.Errorf("line %d: more than one YAML document in config file", extra.Line)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil
	}
	return decodeStruct(root, rv.Elem(), "")
}

func decodeStruct(n *yaml.Node, v reflect.Value, path string) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("%sline %d: want a mapping of keys to values, got %s", prefix(path), n.Line, kindName(n))
	}
	fields := fieldsByKey(v)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := joinPath(path, k.Value)
		f, ok := fields[k.Value]
		if !ok {
			return fmt.Errorf("%s: unknown key (line %d)%s", key, k.Line, suggest(k.Value, fields))
		}
		if err := decodeValue(val, f, key); err != nil {
			return err
		}
	}
	return nil
}

func decodeValue(n *yaml.Node, f reflect.Value, key string) error {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch {
	case f.Kind() == reflect.Struct && f.Type() != reflect.TypeFor[time.Time]():
		return decodeStruct(n, f, key)
	case f.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode && len(n.Content) == 0:
		f.Set(reflect.Zero(f.Type())) // an empty list reads as nil, as when absent
		return nil
	case f.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		out := reflect.MakeSlice(f.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			if err := decodeValue(item, out.Index(i), fmt.Sprintf("%s[%d]", key, i)); err != nil {
				return err
			}
		}
		f.Set(out)
		return nil
	case f.Kind() == reflect.Slice && n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		f.Set(reflect.Zero(f.Type()))
		return nil
	case f.Kind() == reflect.Slice:
		return fmt.Errorf("%s: want a list (line %d), got %s", key, n.Line, kindName(n))
	}
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("%s: want a single value (line %d), got %s", key, n.Line, kindName(n))
	}
	return setScalar(f, n.Value, key)
}

// setScalar parses text into the scalar field f.
func setScalar(f reflect.Value, text, key string) error {
	bad := func(want string) error {
		return fmt.Errorf("%s: invalid value %q: want %s", key, text, want)
	}
	if f.CanAddr() {
		if tu, ok := f.Addr().Interface().(encoding.TextUnmarshaler); ok {
			if err := tu.UnmarshalText([]byte(text)); err != nil {
				return fmt.Errorf("%s: invalid value %q: %w", key, text, err)
			}
			return nil
		}
	}
	if f.Type() == reflect.TypeFor[time.Duration]() {
		d, err := time.ParseDuration(strings.TrimSpace(text))
		if err != nil {
			return bad("a duration such as 500ms, 10s or 5m")
		}
		f.SetInt(int64(d))
		return nil
	}
	text = strings.TrimSpace(text)
	switch f.Kind() {
	case reflect.String:
		f.SetString(text)
	case reflect.Bool:
		switch strings.ToLower(text) {
		case "true":
			f.SetBool(true)
		case "false":
			f.SetBool(false)
		default:
			return bad("true or false")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(text, 0, 64)
		if err != nil || f.OverflowInt(i) {
			return bad("an integer")
		}
		f.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u, err := strconv.ParseUint(text, 0, 64)
		if err != nil || f.OverflowUint(u) {
			return bad("a non-negative integer")
		}
		f.SetUint(u)
	case reflect.Float32, reflect.Float64:
		x, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return bad("a number")
		}
		f.SetFloat(x)
	default:
		return fmt.Errorf("%s: unsupported config field type %s", key, f.Type())
	}
	return nil
}

// fieldsByKey maps the yaml keys of struct v to its settable fields. Fields
// tagged `yaml:",inline"` contribute their own keys.
func fieldsByKey(v reflect.Value) map[string]reflect.Value {
	out := make(map[string]reflect.Value)
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") && sf.Type.Kind() == reflect.Struct {
			for k, f := range fieldsByKey(v.Field(i)) {
				out[k] = f
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		out[name] = v.Field(i)
	}
	return out
}

// Keys lists every leaf key path of the struct pointed to by out, sorted, as
// used in config files ("nat.autonat"). It is what ApplyEnv maps environment
// variables onto.
func Keys(out any) []string {
	var keys []string
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		for k, f := range fieldsByKey(v) {
			p := joinPath(path, k)
			if f.Kind() == reflect.Struct && f.Type() != reflect.TypeFor[time.Time]() {
				walk(f, p)
				continue
			}
			keys = append(keys, p)
		}
	}
	walk(reflect.ValueOf(out).Elem(), "")
	sort.Strings(keys)
	return keys
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func prefix(path string) string {
	if path == "" {
		return ""
	}
	return path + ": "
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// suggest names the closest known key when the unknown one looks like a typo.
func suggest(key string, fields map[string]reflect.Value) string {
	best, bestDist := "", 3
	for k := range fields {
		if d := editDistance(key, k); d < bestDist || (d == bestDist && best != "" && k < best) {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
