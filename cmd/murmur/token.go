package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"path/filepath"
	"strings"

	"github.com/murmur-p2p/murmur/internal/controlapi"
	"github.com/murmur-p2p/murmur/p2pnode"
	"github.com/murmur-p2p/murmur/security"
)

// apiTokenFileName is the file in the data dir holding the control API's
// bearer token (mode 0600). murmur init writes it; the daemon requires it
// (unless api_token is set, or api_no_token on loopback); client commands
// given --data read it themselves, as Jupyter's clients do.
const apiTokenFileName = "api.token"

// ensureAPIToken returns the token in DATA/api.token, creating the file
// with a new random token if it does not exist; created reports that.
func ensureAPIToken(dataDir string) (token string, created bool, err error) {
	path := filepath.Join(dataDir, apiTokenFileName)
	data, err := security.ReadPrivateFile(path)
	if err == nil {
		t := strings.TrimSpace(string(data))
		if t == "" {
			return "", false, fmt.Errorf("API token file %s is empty (delete it and murmur init writes a new one)", path)
		}
		return t, false, nil
	}
	if !security.IsNotExist(err) {
		return "", false, err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", false, fmt.Errorf("generate API token: %w", err)
	}
	t := hex.EncodeToString(b[:])
	if err := security.WritePrivateFile(path, []byte(t+"\n")); err != nil {
		return "", false, fmt.Errorf("write API token: %w", err)
	}
	return t, true, nil
}

// readAPIToken returns the token of DATA/api.token, or "" if there is none.
func readAPIToken(dataDir string) (string, error) {
	data, err := security.ReadPrivateFile(filepath.Join(dataDir, apiTokenFileName))
	if security.IsNotExist(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(data)), nil
}

// daemonAPIToken decides the token the daemon's API requires: api_token if
// set; none if api_no_token opts out and the API is on loopback; else the
// token of DATA/api.token (created if missing).
func daemonAPIToken(cfg p2pnode.Config) (string, error) {
	if cfg.APIToken != "" {
		return cfg.APIToken, nil
	}
	host, _, _ := net.SplitHostPort(cfg.APIAddr)
	if cfg.Access.APINoToken && controlapi.IsLoopback(host) {
		return "", nil
	}
	t, _, err := ensureAPIToken(cfg.DataDir)
	return t, err
}
