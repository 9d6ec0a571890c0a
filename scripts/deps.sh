#!/usr/bin/env bash
# deps.sh installs what intercomd's build, tests and demo need when it is
# missing, on Debian: mosquitto, OpenCV (for gocv), zxing-cpp's CLI (the QR
# benchmark's peer), and the Go modules. It is idempotent and quiet when
# everything is already there.
set -euo pipefail
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
pkg-config --exists opencv4 2>/dev/null || need+=(libopencv-dev)
command -v ZXingReader >/dev/null 2>&1 || need+=(zxing-cpp-tools)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v g++ >/dev/null 2>&1 || need+=(g++)
if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# mosquitto's Debian service is not wanted: tests start their own brokers.
go mod download
