#!/usr/bin/env bash
# Runs the browser-tagged tests (go test -tags browser, the TestBrowser*
# tests of cmd/hetalign) in a real headless Chromium: installs Debian's
# chromium when missing (root and apt-get needed). Screenshots (PNG) and
# the pages' load timings go to $HETALIGN_BROWSER_OUT (default
# /tmp/hetalign-browser).
#
# Environment: BROWSER_TEST_RUN (a go test -run pattern, default
# ^TestBrowser), HETALIGN_BROWSER_OUT.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
	if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
		echo "test-browser: no chromium on PATH, and not root with apt-get to install Debian's chromium" >&2
		exit 1
	fi
	echo "test-browser: installing chromium"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends chromium >/dev/null ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
fi
chromium --version
export HETALIGN_BROWSER_OUT=${HETALIGN_BROWSER_OUT:-/tmp/hetalign-browser}
mkdir -p "$HETALIGN_BROWSER_OUT"
go test -tags browser -count=1 -timeout 10m -run "${BROWSER_TEST_RUN:-^TestBrowser}" -v ./cmd/hetalign 2>&1 |
	grep -v '^=== \(RUN\|PAUSE\|CONT\)' 
status=${PIPESTATUS[0]}
echo "test-browser: screenshots and timings in $HETALIGN_BROWSER_OUT"
exit "$status"
