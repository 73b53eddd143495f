package p2pnode

import (
	"fmt"
	"slices"
	"strings"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"

	"github.com/murmur-p2p/murmur/p2pnode/mplex"
)

// Stream multiplexer names accepted by Config.Muxers.
const (
	// MuxerYamux is yamux (/yamux/1.0.0), go-libp2p's and js-libp2p's default.
	MuxerYamux = "yamux"
	// MuxerMplex is mplex (/mplex/6.7.0), murmur's own implementation
	// (package mplex), for peers that speak nothing else.
	MuxerMplex = "mplex"
)

var muxerNames = []string{MuxerYamux, MuxerMplex}

// validateMuxers checks the muxers key: known names, each once, at least one.
func validateMuxers(names []string) error {
	if len(names) == 0 {
		return fmt.Errorf("muxers: at least one is required (want a list of %s)", strings.Join(muxerNames, ", "))
	}
	for i, m := range names {
		if !slices.Contains(muxerNames, m) {
			return fmt.Errorf("muxers[%d]: invalid value %q: want %s", i, m, strings.Join(muxerNames, " or "))
		}
		if slices.Index(names, m) != i {
			return fmt.Errorf("muxers[%d]: %q is listed twice", i, m)
		}
	}
	return nil
}

// muxerOptions returns the libp2p options that offer the muxers in order of
// preference.
func muxerOptions(names []string) ([]libp2p.Option, error) {
	var opts []libp2p.Option
	for _, m := range names {
		switch m {
		case MuxerYamux:
			opts = append(opts, libp2p.Muxer(yamux.ID, yamux.DefaultTransport))
		case MuxerMplex:
			t, err := mplex.New(mplex.DefaultConfig())
			if err != nil {
				return nil, fmt.Errorf("muxers: %w", err)
			}
			opts = append(opts, libp2p.Muxer(mplex.ID, t))
		default:
			return nil, fmt.Errorf("muxers: unknown muxer %q", m)
		}
	}
	return opts, nil
}
