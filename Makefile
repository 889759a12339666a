# The commands a newcomer needs. FLAVOUR unset: precise (Ubuntu 12.04 + upstart 1.5, the
# reference), or the bookworm twin with a banner when precise cannot be had here.
# FLAVOUR=precise insists on precise; FLAVOUR=bookworm is the offline twin (Debian 12 + systemd).
FLAVOUR ?=
# SERVER=unicorn: real Ruby unicorn behind unicorn-wrapper; default phoenix.
SERVER ?=
PORT ?= 8080
NAME ?= default
LAB = node dist/lab/cli.js

.PHONY: all install build images lab-up lab-down lab-status test e2e bench clean

all: test

node_modules: package-lock.json
	npm ci --no-audit --no-fund
	@touch node_modules

install: node_modules

build: node_modules
	npm run build

# Base, runtime and flavour images (precise only where its base can be had).
images: build
	$(LAB) build --flavour $(or $(FLAVOUR),all)

lab-up: build
	$(LAB) up $(if $(FLAVOUR),--flavour $(FLAVOUR)) $(if $(SERVER),--server $(SERVER)) --port $(PORT) --name $(NAME)

lab-down: build
	$(LAB) down --name $(NAME)

lab-status: build
	$(LAB) status --name $(NAME)

test: node_modules
	npm test

e2e: node_modules
	npm run e2e

bench: node_modules
	npm run bench:wrapper

clean:
	rm -rf dist
