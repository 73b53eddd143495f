package controlapi

import (
	"crypto/subtle"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// The control API is for the node's operator, never for a web page the
// operator happens to visit. Every request passes through guard, the one
// middleware every route (those added later too: Handle registers through
// it) goes through:
//
//   - Host: the Host header must name this API (a loopback name, the host of
//     Config.Addr, or one of Config.AllowedHosts). A DNS-rebinding page
//     reaches 127.0.0.1 under its own name, and is refused (403).
//   - Origin: a browser names the page that sent a request; one that is not
//     this API's own origin (same host and port) is refused (403).
//   - Writes (every method but GET, HEAD and OPTIONS) must say Content-Type:
//     application/json (else 415). A page can send text/plain or form
//     posts to any address without a CORS preflight, but not JSON.
//   - The token: with Config.Token set, "Authorization: Bearer TOKEN" (or
//     Basic with the token as password, for the dashboard's login prompt,
//     or the TokenCookie cookie) on every request but /healthz and /readyz
//     (else 401). Browsers replay cached Basic credentials and cookies on
//     cross-site requests, which is why the checks above come first. A page cannot
//     read the token file, and the API sends no CORS headers, so a page
//     learns nothing from any answer.
//
// The checks run in that order, before any route sees the request.

// guard wraps next with the checks above.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.hostAllowed(r.Host) {
			s.refused.Add(1)
			writeError(w, http.StatusForbidden, fmt.Sprintf("Host %q is not this API's address (allowed: loopback names, %s%s); requests through other names are refused to stop DNS rebinding",
				r.Host, s.cfg.Addr, extraHosts(s.cfg.AllowedHosts)))
			return
		}
		if o := r.Header.Get("Origin"); o != "" && !sameOrigin(o, r.Host) {
			s.refused.Add(1)
			writeError(w, http.StatusForbidden, fmt.Sprintf("Origin %q: the control API does not serve web pages of other origins", o))
			return
		}
		if isWrite(r.Method) {
			mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || mt != "application/json" {
				s.refused.Add(1)
				writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("%s %s: Content-Type must be application/json (got %q)", r.Method, r.URL.Path, r.Header.Get("Content-Type")))
				return
			}
		}
		if s.cfg.Token != "" && r.URL.Path != "/healthz" && r.URL.Path != "/readyz" {
			got, ok := requestToken(r) // Bearer, or Basic for the dashboard's login prompt
			if !ok {
				if c, err := r.Cookie(TokenCookie); err == nil {
					got, ok = c.Value, true
				}
			}
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.Token)) != 1 {
				challenges, msg := authChallenges(r)
				w.Header()["Www-Authenticate"] = challenges
				writeError(w, http.StatusUnauthorized, msg)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// TokenCookie is the cookie a page the API serves itself (a dashboard)
// may carry the token in, instead of the Authorization header, which a
// browser cannot add to a navigation. Whoever sets it should make it
// HttpOnly and SameSite=Strict; the Host, Origin and Content-Type checks
// still apply, so another page cannot use it to write.
const TokenCookie = "murmur_api_token"

// isWrite reports whether a method may change state.
func isWrite(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

func extraHosts(hosts []string) string {
	if len(hosts) == 0 {
		return ""
	}
	return ", " + strings.Join(hosts, ", ")
}

// hostAllowed checks a Host header (host or host:port). With the API on an
// unspecified address (0.0.0.0, ::), which requires a token, any host is
// allowed: the machine's names are not known here, and the token is what
// keeps pages out.
func (s *Server) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if host == "" {
		return false
	}
	if IsLoopback(host) || slices.Contains(s.cfg.AllowedHosts, host) {
		return true
	}
	cfgHost, _, err := net.SplitHostPort(s.cfg.Addr)
	if err != nil {
		return false
	}
	if ip := net.ParseIP(cfgHost); ip != nil && ip.IsUnspecified() {
		return s.cfg.Token != ""
	}
	return strings.EqualFold(host, cfgHost)
}

// sameOrigin accepts only an Origin of the API itself (a page it serves,
// such as a dashboard at /ui): same host and port as the request's Host.
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, host)
}

// Refused counts requests the guard refused for their Host, Origin or
// Content-Type.
func (s *Server) Refused() uint64 { return s.refused.Load() }
