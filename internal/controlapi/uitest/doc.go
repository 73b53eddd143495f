// Package uitest is the dashboard's browser test: TestDashboard loads the
// control API's /ui page from a running 3-node testnet in a real headless
// Chromium (Debian's chromium package, driven through chromedp) and checks
// what the page shows. It is built only with the uitest tag; `make test-ui`
// (mk/ui.mk) installs Chromium if missing, starts the testnet and runs it.
package uitest
