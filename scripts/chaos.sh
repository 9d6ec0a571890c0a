#!/usr/bin/env bash
# chaos.sh is `make chaos`: build the daemon, then run ITERATIONS (default
# 200) rounds of SIGKILLs at random points of snapshot apply, delta apply,
# single-use consumption and outbox drain, with broker kills and freezes,
# against a private mosquitto (internal/chaos). It prints
#   BENCH chaos_iterations / chaos_failures / events_lost / events_duplicated
# and fails on any failed check or lost event. CHAOSFLAGS passes more flags
# to chaosrun (e.g. "-seed 42 -v -dir /tmp/chaos").
set -euo pipefail
cd "$(dirname "$0")/.."
ITERATIONS=${ITERATIONS:-200}
mkdir -p bin
go build -o bin/intercomd ./cmd/intercomd
go build -o bin/chaosrun ./internal/chaos/chaosrun
exec bin/chaosrun -intercomd bin/intercomd -iterations "$ITERATIONS" ${CHAOSFLAGS:-}
