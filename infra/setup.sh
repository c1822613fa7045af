#!/usr/bin/env bash
# Installs what devmetrics needs on a fresh Debian machine and is a no-op when all is there:
# Java 17 and Maven (the Kafka broker jars are fetched by `devmetrics stack up`), Prometheus,
# Alertmanager, VictoriaMetrics and kcat from Debian's packages (Chromium too, for the report
# test), and this project with its Python dependencies.
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
command -v npm >/dev/null || missing+=(npm)    # the GitHub webhook corpus
command -v wrk >/dev/null || missing+=(wrk)    # the receiver's load benchmark
command -v javac >/dev/null || missing+=(openjdk-17-jdk-headless)  # compiles the tests' CDEvents sender
command -v go >/dev/null || missing+=(golang-go)  # the CDEvents Go SDK: schemas, a test sender
command -v chromium >/dev/null || missing+=(chromium)  # the report test opens the HTML report
command -v chromedriver >/dev/null || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python3 -c 'import sys; assert sys.version_info[:2] == (3, 11), "devmetrics needs Python 3.11"'
# Checked from outside the checkout: the package must be installed from this one (an editable
# install of another clone would otherwise pass, and the `devmetrics` command would run that).
here=$PWD
if ! (cd / && python3 -c '
import sys, devmetrics, faust, confluent_kafka, stochastic, pytest_timeout, matplotlib, selenium
from pathlib import Path
sys.exit(Path(devmetrics.__file__).resolve().parents[1] != Path(sys.argv[1]).resolve())
' "$here") 2>/dev/null \
   || [ pyproject.toml -nt .cache/.installed ]; then
  echo "setup: installing devmetrics and its Python dependencies" >&2
  python3 -m pip install -q --disable-pip-version-check -e ".[test]"
  mkdir -p .cache && touch .cache/.installed
fi
# Under pyenv a new console script is reachable only once its shim exists.
if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi

# The webhook receiver: the CDEvents Java SDK jars (whose jar ships the CDEvents JSON schemas
# the receiver validates against, and which the tests use as a real CDEvents client) and the
# community corpus of GitHub webhook payloads, both into the ignored cache.
if [ ! -f .cache/cdevents/libs/.complete ]; then
  echo "setup: fetching the CDEvents Java SDK into .cache/cdevents" >&2
  rm -rf .cache/cdevents/libs
  mvn -q -B -f infra/cdevents/pom.xml dependency:copy-dependencies \
    -DoutputDirectory="$PWD/.cache/cdevents/libs" -Dmaven.repo.local="$PWD/.cache/m2"
  touch .cache/cdevents/libs/.complete
fi
# The CDEvents JSON schemas of every specification version the CDEvents Go SDK supports (0.3,
# 0.4 and 0.5), written from the SDK's module into the cache; the receiver validates against
# them. Modules go to the cache too; an older Go fetches the toolchain go.mod names.
export GOPATH="$PWD/.cache/go" GOMODCACHE="$PWD/.cache/go/mod" GOFLAGS=-modcacherw
go_minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
if [ "${go_minor:-0}" -lt 21 ]; then
  echo "setup: $(go env GOVERSION) is too old to fetch the Go toolchain the CDEvents SDK" \
       "needs; install Go 1.21 or later (https://go.dev/dl or a newer Debian)" >&2
  exit 1
fi
if [ ! -f .cache/cdevents/schemas/.complete ]; then
  echo "setup: writing the CDEvents schemas of the CDEvents Go SDK into .cache/cdevents" >&2
  rm -rf .cache/cdevents/schemas
  (cd infra/cdevents/schemas && go run . "$OLDPWD/.cache/cdevents/schemas")
  (cd tests/support/cdevents/gosender && go mod download)  # the tests' CDEvents 0.5 sender
  touch .cache/cdevents/schemas/.complete
fi
WEBHOOK_EXAMPLES_VERSION=7.6.1
if [ ! -f ".cache/webhooks-examples/$WEBHOOK_EXAMPLES_VERSION/package/api.github.com/index.json" ]; then
  echo "setup: fetching @octokit/webhooks-examples $WEBHOOK_EXAMPLES_VERSION into .cache" >&2
  dest=".cache/webhooks-examples/$WEBHOOK_EXAMPLES_VERSION"
  mkdir -p "$dest"
  tarball=$(cd "$dest" && npm pack --silent "@octokit/webhooks-examples@$WEBHOOK_EXAMPLES_VERSION")
  tar xzf "$dest/$tarball" -C "$dest" && rm "$dest/$tarball"
fi
