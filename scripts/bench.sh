#!/usr/bin/env bash
# bench.sh runs every benchmark once (each measures its own percentiles over
# many operations) and prints the headline figures as "BENCH name value unit".
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
go test -run '^$' -bench . -benchtime 1x -timeout 30m ./... >"$out" 2>&1
rc=$?
grep '^BENCH ' "$out"
if [ $rc -ne 0 ]; then grep -v '^BENCH ' "$out" | tail -40; fi
if [ -d "${QRDIR:-../shared/data/qr-frames}" ] && [ -d cmd/qrbench ]; then
  go run ./cmd/qrbench "${QRDIR:-../shared/data/qr-frames}" | grep '^BENCH ' || rc=1
fi
rm -f "$out"
exit $rc
