package main

import (
	"fmt"
	"path"
	"strings"
	"unicode/utf8"
)

// checkKeyArg refuses (exit 2) a key that the control API's URL path would
// not carry unchanged: HTTP path cleaning rewrites empty, "." and ".."
// segments and a leading "/" ("foo/../bar" would write "bar"), and keys
// must be valid UTF-8.
func checkKeyArg(key string) error {
	if !utf8.ValidString(key) {
		return &exitError{exitUsage, fmt.Errorf("key %q is not valid UTF-8", key)}
	}
	p := "/v1/kv/" + key
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	if clean != p {
		return &exitError{exitUsage, fmt.Errorf("key %q has an empty, \".\" or \"..\" path segment or a leading \"/\": "+
			"the API's URL path would turn it into %q; choose a key without them", key, strings.TrimPrefix(clean, "/v1/kv/"))}
	}
	return nil
}
