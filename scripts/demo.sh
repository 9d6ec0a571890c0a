#!/usr/bin/env bash
# demo.sh is `make demo`: build the binaries, then play the scripted visit on
# simulated hardware against a private mosquitto (internal/demo/rundemo).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin
go build -o bin/intercomd ./cmd/intercomd
go build -o bin/intercomctl ./cmd/intercomctl
go build -o bin/visitctl ./cmd/visitctl
exec go run ./internal/demo/rundemo -intercomd bin/intercomd -visitctl bin/visitctl "$@"
