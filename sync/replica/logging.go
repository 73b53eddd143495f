package replica

import logging "github.com/ipfs/go-log/v2"

// log is the engine's subsystem logger; the engine logs only what it cannot
// report through an error (work it drops on its own schedule).
var log = logging.Logger("murmur/sync")
