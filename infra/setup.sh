#!/usr/bin/env bash
# Installs what devmetrics needs on a fresh Debian machine and is a no-op when all is there:
# Java 17 and Maven (the Kafka broker jars are fetched by `devmetrics stack up`), Prometheus,
# Alertmanager, VictoriaMetrics and kcat from Debian's packages, and this project with its
# Python dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v prometheus >/dev/null || missing+=(prometheus)
command -v promtool >/dev/null || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null || missing+=(prometheus-alertmanager)
command -v victoria-metrics >/dev/null || missing+=(victoria-metrics)
command -v kcat >/dev/null || missing+=(kcat)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python3 -c 'import sys; assert sys.version_info[:2] == (3, 11), "devmetrics needs Python 3.11"'
if ! python3 -c 'import devmetrics, faust, confluent_kafka, stochastic, pytest_timeout' 2>/dev/null \
   || [ pyproject.toml -nt .cache/.installed ]; then
  echo "setup: installing devmetrics and its Python dependencies" >&2
  python3 -m pip install -q --disable-pip-version-check -e ".[test]"
  mkdir -p .cache && touch .cache/.installed
fi
# Under pyenv a new console script is reachable only once its shim exists.
if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
