#!/bin/sh
# Benchmark netlab-http against twistd web, python -m http.server and a
# bare Twisted responder (wrk), plus slow-reader RSS and 10,000 idle
# keep-alive connections.  See benchmarks/http_bench.py for the details.
# Usage: bash benchmarks/http.sh [--quick | --shapes]   (from the repository root, after scripts/setup)
# --shapes: only netlab-http and the bare responder under the three request
# shapes (wrk's repeated head, distinct heads, browser heads).
# Needs wrk, which CI does not install: apt-get install -y wrk
set -e
cd "$(dirname "$0")/.."
# 10,000 connections need more file descriptors than the usual 1024.
ulimit -n 12000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
exec .venv/bin/python benchmarks/http_bench.py "$@"
