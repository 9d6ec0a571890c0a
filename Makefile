# intercomd — see README.md. Every target installs what it needs (scripts/deps.sh).
GO        ?= go
PKGS      ?= ./...
DEPS_STAMP = .deps.ok
TESTFLAGS ?= -count=1 -timeout 12m
FUZZTIME  ?= 60s
SHORTFUZZ ?= 2s
MINEXECS  ?= 1000000
FUZZROUNDS ?= 6
ITERATIONS ?= 200
DURATION  ?= 10m
QRDIR     ?= ../shared/data/qr-frames
DIR       ?= $(QRDIR)

.PHONY: all deps build test bench bench-qr lint cross demo fuzz chaos soak clean

all: build

deps:
	@bash scripts/deps.sh

build: deps
	$(GO) build ./...

test: deps
	$(GO) vet ./...
	$(GO) test $(TESTFLAGS) $(PKGS)
	# Mats have no finalizers: with matprofile, the camera and QR tests check
	# that every Mat is closed.
	$(GO) test $(TESTFLAGS) -tags matprofile ./device/camera ./reader/qr
	# A short fuzz: every target for a few seconds, one round each.
	@FUZZTIME=$(SHORTFUZZ) MINEXECS=0 FUZZSAVE=0 bash scripts/fuzz.sh

bench: deps
	@bash scripts/bench.sh

bench-qr: deps
	$(GO) run ./cmd/qrbench $(DIR)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# The non-camera parts, for the intercom's ARM boards, without cgo.
cross:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -o /dev/null ./...
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -o /dev/null ./...

demo: deps
	@bash scripts/demo.sh

fuzz: deps
	@FUZZTIME=$(FUZZTIME) MINEXECS=$(MINEXECS) FUZZROUNDS=$(FUZZROUNDS) bash scripts/fuzz.sh

chaos: deps
	@ITERATIONS=$(ITERATIONS) bash scripts/chaos.sh

soak: deps
	@DURATION=$(DURATION) bash scripts/soak.sh

clean:
	rm -rf bin
