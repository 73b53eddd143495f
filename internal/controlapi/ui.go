package controlapi

import (
	"embed"
	"encoding/base64"
	"io/fs"
	"net/http"
	"strings"
)

// uiFiles is the dashboard: plain HTML, CSS and JavaScript, no build step.
//
//go:embed ui
var uiFiles embed.FS

// uiRoutes serves the dashboard at /ui/. It reads the node only through the
// API's own endpoints, with the browser's credentials.
func (s *Server) uiRoutes(m *http.ServeMux) {
	static, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		panic(err) // the embedded directory is part of the binary
	}
	files := http.StripPrefix("/ui/", http.FileServerFS(static))
	m.HandleFunc("GET /ui", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusMovedPermanently)
	})
	m.HandleFunc("GET /ui/{file...}", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// Only this origin's scripts, styles and API; never framed.
		h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// isUIPath reports whether r asks for the dashboard's pages.
func isUIPath(r *http.Request) bool {
	return r.URL.Path == "/ui" || strings.HasPrefix(r.URL.Path, "/ui/")
}

// requestToken returns the API token a request carries: "Authorization:
// Bearer TOKEN" (the CLI and other programs), or HTTP Basic with the token
// as the password and any user name (a browser's login prompt, which it
// then sends with every request of the dashboard, its change stream
// included).
func requestToken(r *http.Request) (string, bool) {
	auth := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(auth, "Bearer "); ok {
		return tok, true
	}
	if b64, ok := strings.CutPrefix(auth, "Basic "); ok {
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return "", false
		}
		_, pass, ok := strings.Cut(string(raw), ":")
		return pass, ok
	}
	return "", false
}

// authChallenges are the WWW-Authenticate headers of a request refused for
// its token: Bearer for programs, and Basic so that a browser prompts for
// the token on the dashboard and, having it, answers the same challenge
// from the dashboard's API calls by itself. The message says which way
// fits the request.
func authChallenges(r *http.Request) (headers []string, msg string) {
	headers = []string{`Bearer realm="murmur"`, `Basic realm="murmur", charset="UTF-8"`}
	if isUIPath(r) {
		return headers, "missing or wrong API token: the dashboard asks for it at the browser's login prompt (any user name, the token as password: the daemon's api_token, else DATA/api.token)"
	}
	return headers, "missing or wrong API token: send \"Authorization: Bearer TOKEN\" (the murmur CLI reads DATA/api.token itself with --data DIR; else --token or MURMUR_API_TOKEN)"
}
