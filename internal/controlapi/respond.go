package controlapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/murmur-p2p/murmur/p2pnode"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// maxBodySize bounds a request body: the largest value, base64-encoded,
// plus room for the JSON around it.
const maxBodySize = replica.MaxValueSize*4/3 + 64<<10

// writeJSON sends v with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		log.Debugw("write response", "error", err)
	}
}

// writeError sends an ErrorBody.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, ErrorBody{Error: msg})
}

// writeNodeError maps an error from the node to a status: 404 for a missing
// key, 403 for a write this node's member certificate does not allow
// (nothing was signed), 507 while the disk is full, 413 for an event over
// max_message_size, 503 while the node is not running, 500 otherwise.
func writeNodeError(w http.ResponseWriter, what string, err error) {
	switch {
	case errors.Is(err, replica.ErrNotFound):
		writeError(w, http.StatusNotFound, what+": not found")
	case errors.Is(err, p2pnode.ErrForbidden):
		writeError(w, http.StatusForbidden, what+": "+err.Error())
	case errors.Is(err, p2pnode.ErrDiskFull):
		// The node refuses writes until space returns; reads go on.
		writeError(w, http.StatusInsufficientStorage, what+": "+diskFullMessage(err))
	case errors.Is(err, replica.ErrMessageTooLarge):
		// The event (value, key and causal context together) does not fit
		// max_message_size.
		writeError(w, http.StatusRequestEntityTooLarge, what+": "+err.Error())
	case errors.Is(err, replica.ErrOverloaded):
		// Bounded queueing: the client backs off instead of the node
		// holding an unbounded backlog.
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, what+": "+err.Error())
	case errors.Is(err, p2pnode.ErrClosed), errors.Is(err, p2pnode.ErrNotStarted), errors.Is(err, replica.ErrClosed):
		writeError(w, http.StatusServiceUnavailable, what+": node is not running: "+err.Error())
	default:
		log.Warnw("request failed", "what", what, "error", err)
		writeError(w, http.StatusInternalServerError, what+": "+err.Error())
	}
}

// diskFullMessage is the "disk full: N bytes free in DIR" part of err.
func diskFullMessage(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, p2pnode.ErrDiskFull.Error()+":"); i >= 0 {
		return msg[i:]
	}
	return msg
}

// readJSON decodes the request body into v: 413 for a body over
// maxBodySize, 400 for anything that is not exactly one JSON object of v's
// fields. It reports whether it succeeded (having answered otherwise).
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body := http.MaxBytesReader(w, r.Body, maxBodySize)
	var raw bytes.Buffer
	dec := json.NewDecoder(io.TeeReader(body, &raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && !utf8.Valid(raw.Bytes()) {
		// encoding/json would store U+FFFD in place of the bad bytes.
		err = errors.New("not valid UTF-8 (send binary values base64-encoded with \"encoding\": \"base64\")")
	}
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("trailing data after the JSON object")
		}
	}
	if err == nil {
		return true
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", maxBodySize))
		return false
	}
	if errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "bad JSON: empty body")
		return false
	}
	writeError(w, http.StatusBadRequest, "bad JSON: "+err.Error())
	return false
}

// checkKey validates a key (or topic) against the engine's limits.
func checkKey(w http.ResponseWriter, what, key string) bool {
	switch {
	case key == "":
		writeError(w, http.StatusBadRequest, what+": empty")
		return false
	case len(key) > replica.MaxKeySize:
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%s: %d bytes, over the limit of %d", what, len(key), replica.MaxKeySize))
		return false
	case !utf8.ValidString(key):
		// Keys are listed and watched as JSON strings, which cannot carry
		// them unchanged.
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%s: %q is not valid UTF-8", what, key))
		return false
	}
	return true
}

// checkValue validates a value or payload size.
func checkValue(w http.ResponseWriter, what string, v []byte) bool {
	if len(v) > replica.MaxValueSize {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%s: %d bytes, over the limit of %d", what, len(v), replica.MaxValueSize))
		return false
	}
	return true
}
