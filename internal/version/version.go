// Package version tells which build of murmur this is. The Makefile stamps
// the version at link time:
//
//	go build -ldflags "-X github.com/murmur-p2p/murmur/internal/version.stamped=v1.2.3" ./cmd/murmur
//
// Without the stamp (go install, go run, tests) the version comes from the
// module's build info: the module version when murmur was built as a
// dependency, else the VCS revision, else "devel".
package version

import (
	"runtime/debug"
	"strings"
)

// stamped is set by the linker (-X); it is empty in an unstamped build.
var stamped string

// Version returns murmur's version, for example "v0.3.0", "0b1c2d3e4f5a" or
// "0b1c2d3e4f5a-dirty" (a revision), or "devel".
func Version() string {
	if stamped != "" {
		return stamped
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	return fromBuildInfo(info)
}

func fromBuildInfo(info *debug.BuildInfo) string {
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return "devel"
	}
	return rev[:min(len(rev), 12)] + dirty
}

// Agent returns the libp2p agent version murmur announces through
// identify: "murmur/<version>".
func Agent() string { return "murmur/" + Version() }

// Dependency returns the version of module path linked into this binary,
// or "" when it is not known.
func Dependency(path string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, d := range info.Deps {
		if d.Path == path {
			if d.Replace != nil {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return ""
}

// String is the one-line description "murmur <version> (<go>, go-libp2p
// <version>)" that murmur version prints.
func String() string {
	var b strings.Builder
	b.WriteString("murmur " + Version())
	if info, ok := debug.ReadBuildInfo(); ok {
		b.WriteString(" (" + info.GoVersion)
		if v := Dependency("github.com/libp2p/go-libp2p"); v != "" {
			b.WriteString(", go-libp2p " + v)
		}
		b.WriteString(")")
	}
	return b.String()
}
