GO      ?= go
PKGS    ?= ./...
FUZZTIME ?= 10s
BIN     := bin/zccingest

.PHONY: build test bench fuzz demo soak lint clean

build:
	$(GO) build -o $(BIN) ./cmd/zccingest

# The test command of the README and of CI.
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 8m $(PKGS)

# Micro-benchmarks, then the end-to-end load run against the real binary.
# Formatting: CI fails on any file gofmt would change.
lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

bench: build
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)
	$(GO) run ./test/load -bin $(BIN)

# Minutes of 10 subscriptions with faults injected (not part of CI).
SOAK ?= 3m
soak: build
	$(GO) run ./test/load -bin $(BIN) -soak $(SOAK)

# A short run of every fuzz target (go test -fuzz takes one target at a time).
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# The simulator, the ingester and tail on loopback; Ctrl-C stops it.
demo:
	bash test/demo.sh

clean:
	rm -rf bin data
