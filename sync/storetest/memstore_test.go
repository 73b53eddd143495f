package storetest_test

import (
	"testing"

	"github.com/murmur-p2p/murmur/sync/replica"
	"github.com/murmur-p2p/murmur/sync/storetest"
)

func TestConformanceMemStore(t *testing.T) {
	storetest.Run(t, storetest.Harness{Open: func(t *testing.T) replica.Store { return replica.NewMemStore() }})
}
