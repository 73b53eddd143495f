package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// EnvName returns the environment variable that overrides key: the prefix,
// then the key upper-cased with dots and dashes turned into underscores
// ("nat.autonat" with prefix "MURMUR_" is MURMUR_NAT_AUTONAT).
func EnvName(envPrefix, key string) string {
	r := strings.NewReplacer(".", "_", "-", "_")
	return envPrefix + strings.ToUpper(r.Replace(key))
}

// ApplyEnv sets fields of out (a pointer to a struct) from environment
// entries of the form NAME=value (as os.Environ returns them). List fields
// take comma-separated values. A bad value is an error naming the key and the
// variable. Variables with the prefix that match no key are left alone: they
// belong to other tools (MURMUR_API is the CLI's).
func ApplyEnv(out any, envPrefix string, environ []string) error {
	byName := make(map[string]string)
	for _, k := range Keys(out) {
		byName[EnvName(envPrefix, k)] = k
	}
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, envPrefix) {
			continue
		}
		key, known := byName[name]
		if !known {
			continue // other MURMUR_* variables (MURMUR_API, ...) belong to other tools
		}
		f := lookup(reflect.ValueOf(out).Elem(), key)
		label := fmt.Sprintf("%s (environment %s)", key, name)
		if f.Kind() == reflect.Slice && f.Type() != reflect.TypeFor[time.Duration]() {
			var parts []string
			for p := range strings.SplitSeq(val, ",") {
				if p = strings.TrimSpace(p); p != "" {
					parts = append(parts, p)
				}
			}
			s := reflect.MakeSlice(f.Type(), len(parts), len(parts))
			for i, p := range parts {
				if err := setScalar(s.Index(i), p, fmt.Sprintf("%s[%d]", label, i)); err != nil {
					return err
				}
			}
			f.Set(s)
			continue
		}
		if err := setScalar(f, val, label); err != nil {
			return err
		}
	}
	return nil
}

// lookup finds the field at a dotted key path; the path comes from Keys, so
// it always exists.
func lookup(v reflect.Value, key string) reflect.Value {
	for part := range strings.SplitSeq(key, ".") {
		v = fieldsByKey(v)[part]
	}
	return v
}
