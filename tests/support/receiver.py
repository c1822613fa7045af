"""Helpers of the receiver's tests: the fetched corpora, signing, an in-process receiver on a
real broker, and the CDEvents Java SDK sender compiled at test time."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import ssl
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.settings import KafkaSettings
from devmetrics.stack.process import free_port
from producers.publisher import Publisher
from producers.receiver import ReceiverService, ReceiverTelemetry, Rules, Secrets
from producers.receiver.cdevents import CDEventSchemas
from producers.receiver.server import make_server
from support import REPO_ROOT

CACHE = REPO_ROOT / ".cache"
WEBHOOK_EXAMPLES = CACHE / "webhooks-examples" / "7.6.1" / "package" / "api.github.com"
CDEVENTS_LIBS = CACHE / "cdevents" / "libs"
CDEVENTS_SCHEMAS = CACHE / "cdevents" / "schemas"
GO_SENDER = Path(__file__).parent / "cdevents" / "gosender"
# Where infra/setup.sh keeps Go modules: the build needs no network once setup has run.
GO_ENV = {
    "GOPATH": str(CACHE / "go"),
    "GOMODCACHE": str(CACHE / "go" / "mod"),
    "GOFLAGS": "-modcacherw",
}
JAVA_SENDER = Path(__file__).parent / "cdevents" / "SendCDEvents.java"
SECRET = b"s3cret-for-tests"
TOKEN = b"gitlab-token-for-tests"
CDEVENTS_TOKEN = b"cdevents-token-for-tests"
SECRETS = Secrets(github=SECRET, gitlab=TOKEN, pagerduty=SECRET, cdevents=CDEVENTS_TOKEN)
RULES = Rules(ai_actors=frozenset({"copilot", "copilot-swe-agent[bot]"}))


def github_examples() -> dict[str, list[dict[str, Any]]]:
    """The @octokit/webhooks-examples payloads by event name (fetched by infra/setup.sh)."""
    index = WEBHOOK_EXAMPLES / "index.json"
    if not index.is_file():
        pytest.fail(f"{index} is missing: run `bash infra/setup.sh` (npm pack) first")
    return {e["name"]: e["examples"] for e in json.loads(index.read_text())}


def cdevent_schemas() -> CDEventSchemas:
    """The CDEvents schemas infra/setup.sh wrote from the CDEvents Go SDK."""
    if not (CDEVENTS_SCHEMAS / ".complete").is_file():
        pytest.fail(f"no CDEvents schemas in {CDEVENTS_SCHEMAS}: run `bash infra/setup.sh` first")
    return CDEventSchemas.from_dir(CDEVENTS_SCHEMAS)


def hub_signature(body: bytes, secret: bytes = SECRET) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def pagerduty_signature(body: bytes, secret: bytes = SECRET) -> str:
    return "v1=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def post(
    url: str, body: bytes, headers: dict[str, str], context: ssl.SSLContext | None = None
) -> tuple[int, dict[str, Any]]:
    """POST and return (status, JSON answer), whatever the status; `context` for HTTPS."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def github_headers(
    event: str, delivery: str, body: bytes, secret: bytes = SECRET
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": hub_signature(body, secret),
    }


@dataclass
class RunningReceiver:
    url: str
    service: ReceiverService
    publisher: Publisher

    def webhook(self, source: str) -> str:
        return f"{self.url}/webhooks/{source}"


@contextmanager
def running_receiver(
    kafka: KafkaSettings, max_body_bytes: int = 1 << 20
) -> Iterator[RunningReceiver]:
    """The receiver's service and HTTP server in this process, on a real broker."""
    publisher = Publisher(kafka, client_id="receiver-test", overrides={"linger.ms": 5})
    service = ReceiverService(
        publisher,
        RULES,
        SECRETS,
        ReceiverTelemetry(),
        schemas=cdevent_schemas(),
        # A broker that has just started may take seconds to hand out the idempotent
        # producer's id; on a loaded test machine more than the default 10 s.
        publish_timeout_s=60,
    )
    server = make_server(service, "127.0.0.1", free_port(), max_body_bytes=max_body_bytes)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = "http://{}:{}".format(*server.server_address[:2])
        yield RunningReceiver(url, service, publisher)
    finally:
        server.shutdown()
        server.server_close()
        service.close()
        publisher.flush()


class JavaSender:
    """SendCDEvents.java, compiled once against the fetched CDEvents and CloudEvents jars."""

    def __init__(self, workdir: Path) -> None:
        javac = shutil.which("javac")
        if javac is None:
            pytest.fail("javac is missing (apt-get install -y openjdk-17-jdk-headless)")
        jars = sorted(str(p) for p in CDEVENTS_LIBS.glob("*.jar"))
        if not any(CDEVENTS_LIBS.glob("cdevents-sdk-java-*.jar")):
            pytest.fail(f"no CDEvents Java SDK in {CDEVENTS_LIBS}: run `bash infra/setup.sh`")
        self.classpath = ":".join([str(workdir), *jars])
        subprocess.run(
            [javac, "-d", str(workdir), "-cp", self.classpath, str(JAVA_SENDER)],
            check=True,
            capture_output=True,
        )

    def send(self, url: str, token: str, project: str, mode: str, tag: str) -> list[dict[str, Any]]:
        done = subprocess.run(
            ["java", "-cp", self.classpath, "SendCDEvents", url, token, project, mode, tag],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


class GoSender:
    """tests/support/cdevents/gosender (CDEvents 0.5), built once with the CDEvents Go SDK."""

    def __init__(self, workdir: Path) -> None:
        go = shutil.which("go")
        if go is None:
            pytest.fail("go is missing: run `bash infra/setup.sh` first")
        self.binary = workdir / "gosender"
        env = {**os.environ, **GO_ENV, "GOTOOLCHAIN": os.environ.get("GOTOOLCHAIN", "auto")}
        subprocess.run(
            [go, "build", "-o", str(self.binary), "."],
            cwd=GO_SENDER,
            env=env,
            check=True,
            capture_output=True,
            timeout=600,
        )

    def send(self, url: str, token: str, project: str, mode: str, tag: str) -> list[dict[str, Any]]:
        done = subprocess.run(
            [str(self.binary), url, token, project, mode, tag],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            pytest.fail(f"the Go CDEvents sender failed: {done.stderr.strip()}")
        return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
