package config

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

type color int

func (c *color) UnmarshalText(b []byte) error {
	switch string(b) {
	case "red":
		*c = 1
	case "blue":
		*c = 2
	default:
		return fmt.Errorf("want red or blue")
	}
	return nil
}

type inner struct {
	Depth int     `yaml:"depth"`
	Ratio float64 `yaml:"ratio"`
}

type sample struct {
	Name    string        `yaml:"name"`
	Wait    time.Duration `yaml:"wait"`
	On      bool          `yaml:"on"`
	Hosts   []string      `yaml:"hosts"`
	Color   color         `yaml:"color"`
	Nested  inner         `yaml:"nested"`
	Flat    inner         `yaml:",inline"`
	Skipped string        `yaml:"-"`
}

func TestDecodeYAML(t *testing.T) {
	s := sample{Name: "default", Wait: time.Second, Skipped: "keep"}
	doc := "name: n1\nwait: 250ms\non: true\nhosts: [a, b]\ncolor: blue\nnested:\n  depth: 3\nratio: 0.5\n"
	if err := DecodeYAML([]byte(doc), &s); err != nil {
		t.Fatal(err)
	}
	want := sample{Name: "n1", Wait: 250 * time.Millisecond, On: true, Hosts: []string{"a", "b"}, Color: 2,
		Nested: inner{Depth: 3}, Flat: inner{Ratio: 0.5}, Skipped: "keep"}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("got %+v\nwant %+v", s, want)
	}
	if err := DecodeYAML(nil, &s); err != nil || s.Name != "n1" {
		t.Fatalf("empty document changed the target or failed: %v", err)
	}
}

func TestDecodeYAMLErrors(t *testing.T) {
	cases := map[string]string{
		"colour: red\n":            `colour: unknown key (line 1); did you mean "color"?`,
		"color: green\n":           `color: invalid value "green": want red or blue`,
		"nested:\n  depht: 1\n":    `nested.depht: unknown key (line 2); did you mean "depth"?`,
		"nested:\n  depth: 1.5\n":  `nested.depth: invalid value "1.5": want an integer`,
		"ratio: half\n":            `ratio: invalid value "half": want a number`,
		"hosts: [a, [b]]\n":        `hosts[1]: want a single value (line 1), got a list`,
		"nested: 3\n":              `nested: line 1: want a mapping of keys to values, got "3"`,
		"wait: 10\n":               `wait: invalid value "10": want a duration`,
		"name: [unclosed\n":        `parse YAML`,
		"skipped: x\n":             `skipped: unknown key`,
		"on: yes please\n":         `on: invalid value "yes please": want true or false`,
		"nested:\n  depth: 1e99\n": `nested.depth: invalid value "1e99": want an integer`,
	}
	for doc, want := range cases {
		var s sample
		err := DecodeYAML([]byte(doc), &s)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", doc, err, want)
		}
	}
}

func TestApplyEnv(t *testing.T) {
	var s sample
	env := []string{"APP_NAME=x", "APP_HOSTS=a, b,,c", "APP_NESTED_DEPTH=4", "APP_RATIO=0.25", "APP_COLOR=red", "APP_OTHER=1", "PATH=/bin"}
	if err := ApplyEnv(&s, "APP_", env); err != nil {
		t.Fatal(err)
	}
	if s.Name != "x" || !reflect.DeepEqual(s.Hosts, []string{"a", "b", "c"}) || s.Nested.Depth != 4 || s.Flat.Ratio != 0.25 || s.Color != 1 {
		t.Fatalf("got %+v", s)
	}
	err := ApplyEnv(&s, "APP_", []string{"APP_WAIT=forever"})
	if err == nil || !strings.Contains(err.Error(), `wait (environment APP_WAIT): invalid value "forever"`) {
		t.Fatalf("got %v", err)
	}
	keys := Keys(&s)
	if !reflect.DeepEqual(keys, []string{"color", "depth", "hosts", "name", "nested.depth", "nested.ratio", "on", "ratio", "wait"}) {
		t.Fatalf("Keys = %v", keys)
	}
}
