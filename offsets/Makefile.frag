# Included by the top-level Makefile.
#
# offsets: measure struct field offsets for the newest patch release of every
# Go minor from 1.17 on and add them to offsets/table.json. Incremental:
# versions already in the table are skipped (pass OFFSETGEN_FLAGS=-force to
# redo them). Each new version downloads a ~70 MB toolchain from the Go
# module proxy into the module cache and installs it under
# ~/.cache/spanprobe/toolchains.
OFFSETGEN_VERSIONS ?= latest-patches
OFFSETGEN_FLAGS ?=

.PHONY: offsets
offsets:
	go run ./offsets/cmd/offsetgen -versions $(OFFSETGEN_VERSIONS) -out offsets/table.json $(OFFSETGEN_FLAGS)
