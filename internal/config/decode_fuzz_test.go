package config

import "testing"

// FuzzDecodeYAML: any config file either decodes or is refused with an
// error; it never panics.
func FuzzDecodeYAML(f *testing.F) {
	f.Add([]byte("name: n1\nwait: 250ms\non: true\nhosts: [a, b]\ncolor: blue\nnested:\n  depth: 3\nratio: 0.5\n"))
	f.Add([]byte("nested: [1, 2]\n"))
	f.Add([]byte("hosts:\n  - &a x\n  - *a\n"))
	f.Add([]byte("- a\n- b\n"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		var s sample
		_ = DecodeYAML(doc, &s)
	})
}
