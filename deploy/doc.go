// Package deploy holds murmur's deployment files, which are not Go: a
// Grafana dashboard for the daemon's Prometheus metrics (grafana/) and a
// hardened systemd unit (systemd/). Its test checks that every metric the
// dashboard queries is one a running node exports; `make test-deploy`
// verifies the unit with systemd-analyze.
package deploy
