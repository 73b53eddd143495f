package controlapi

import (
	"net/http"
	"strings"
	"testing"
)

// TestBrowserRequestsRefused sends what a web page can make a browser send
// to a loopback API without a CORS preflight (a text/plain or form POST),
// and what a DNS-rebinding page sends (any request under a foreign Host),
// and checks each gets a 4xx and writes nothing.
func TestBrowserRequestsRefused(t *testing.T) {
	node := startNode(t)
	srv, ts, c := serve(t, node, Config{Addr: "127.0.0.1:0", Token: "s3cret"})
	auth := []string{"Authorization", "Bearer s3cret"}
	cases := []struct {
		name, method, path, body string
		header                   []string
		want                     int
	}{
		{"text/plain publish", "POST", "/v1/publish", `{"topic":"t","payload":"x"}`, []string{"Content-Type", "text/plain"}, http.StatusUnsupportedMediaType},
		{"form publish", "POST", "/v1/publish", `topic=t`, []string{"Content-Type", "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType},
		{"no content type", "PUT", "/v1/kv/k", `{"value":"v"}`, nil, http.StatusUnsupportedMediaType},
		{"text/plain even with the token", "PUT", "/v1/kv/k", `{"value":"v"}`, append([]string{"Content-Type", "text/plain"}, auth...), http.StatusUnsupportedMediaType},
		{"rebinding Host", "PUT", "/v1/kv/k", `{"value":"v"}`, append([]string{"Content-Type", "application/json", "Host", "evil.example:80"}, auth...), http.StatusForbidden},
		{"rebinding Host read", "GET", "/v1/kv/k", ``, append([]string{"Host", "evil.example"}, auth...), http.StatusForbidden},
		{"foreign Origin", "PUT", "/v1/kv/k", `{"value":"v"}`, append([]string{"Content-Type", "application/json", "Origin", "http://evil.example"}, auth...), http.StatusForbidden},
		{"no token", "PUT", "/v1/kv/k", `{"value":"v"}`, []string{"Content-Type", "application/json"}, http.StatusUnauthorized},
	}
	for _, tc := range cases {
		status, body := requestHost(t, tc.method, ts.URL+tc.path, tc.body, tc.header...)
		if status != tc.want {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, status, tc.want, strings.TrimSpace(body))
		}
	}
	if st, err := node.Stats(); err != nil || st.Engine.Created != 0 {
		t.Fatalf("refused requests created %d events (err %v)", st.Engine.Created, err)
	}
	if srv.Refused() < 7 {
		t.Fatalf("Refused() = %d, want at least 7", srv.Refused())
	}
	// The operator's own client passes every check.
	if _, err := c.Put(ctx(t), "k", []byte("v")); err != nil {
		t.Fatalf("client: %v", err)
	}
	if _, err := c.Delete(ctx(t), "k"); err != nil {
		t.Fatalf("client delete (a write without a body): %v", err)
	}
	// The token may come in the cookie a dashboard sets.
	if status, body := requestHost(t, "GET", ts.URL+"/v1/status", "", "Cookie", TokenCookie+"=s3cret"); status != http.StatusOK {
		t.Fatalf("token cookie: %d %s", status, body)
	}
	if status, _ := requestHost(t, "GET", ts.URL+"/v1/status", "", "Cookie", TokenCookie+"=wrong"); status != http.StatusUnauthorized {
		t.Fatalf("wrong token cookie: %d", status)
	}
	// Same-origin pages (a dashboard the API serves) may write.
	origin := ts.URL
	if status, body := requestHost(t, "PUT", ts.URL+"/v1/kv/k", `{"value":"v"}`, append([]string{"Content-Type", "application/json", "Origin", origin}, auth...)...); status != http.StatusOK {
		t.Fatalf("same-origin write: %d %s", status, body)
	}
}

// requestHost is request with "Host" honoured as the request's Host.
func requestHost(t *testing.T, method, url, body string, header ...string) (int, string) {
	t.Helper()
	var host string
	var rest []string
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			host = header[i+1]
			continue
		}
		rest = append(rest, header[i], header[i+1])
	}
	if host == "" {
		return request(t, method, url, body, rest...)
	}
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for i := 0; i+1 < len(rest); i += 2 {
		req.Header.Set(rest[i], rest[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, ""
}
