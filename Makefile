# The commands a newcomer needs. FLAVOUR=precise (Ubuntu 12.04 + upstart 1.5, the reference)
# or bookworm (Debian 12 + systemd, the offline twin).
FLAVOUR ?= precise

.PHONY: all install build test e2e bench clean

all: test

node_modules: package-lock.json
	npm ci --no-audit --no-fund
	@touch node_modules

install: node_modules

build: node_modules
	npm run build

test: node_modules
	npm test

e2e: node_modules
	npm run e2e

bench: node_modules
	npm run bench:wrapper

clean:
	rm -rf dist
