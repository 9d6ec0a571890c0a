#!/usr/bin/env bash
# soak.sh is `make soak DURATION=…` (default 10m): mixed traffic (cards, PINs,
# QR codes, web unlocks, visits created and deleted) against intercomd in
# simulation mode, sampling RssAnon and goroutines; it prints
#   BENCH soak_rss_start/end, soak_rss_slope, soak_goroutines_start/end, soak_decisions
# and fails if memory or goroutines grow over the second half.
# SOAKFLAGS passes more flags to chaosrun (e.g. "-interval 30s -dir /tmp/soak").
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10m}
mkdir -p bin
go build -o bin/intercomd ./cmd/intercomd
go build -o bin/chaosrun ./internal/chaos/chaosrun
exec bin/chaosrun -intercomd bin/intercomd -soak "$DURATION" -v ${SOAKFLAGS:-}
