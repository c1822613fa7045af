"""The parts of the local stack: how each is prepared, started and health-checked."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from core.paths import infra_dir
from core.security import Material, basic_auth_header, client_context, material_of
from core.security.material import KAFKA_USERS
from core.settings import Settings
from devmetrics.stack.errors import StackError
from devmetrics.stack.process import ManagedProcess

log = logging.getLogger(__name__)

DEBIAN_PACKAGES = {
    "prometheus": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "victoria-metrics": "victoria-metrics",
}


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    scheme: str = "http"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


class Component:
    """A process of the stack with its own folder ``<home>/<name>`` and log file."""

    name: str = ""
    started_at: float = 0.0
    """When `stack up` last launched (or found) it, on the monotonic clock."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stack = settings.stack
        self.home = self.stack.home / self.name
        self.process = ManagedProcess(
            self.name, self.stack.home / "run", self.stack.home / "logs" / f"{self.name}.log"
        )
        self.material: Material | None = material_of(settings)
        """Certificates and secrets when the security switch is on (docs/security.md)."""

    @property
    def scheme(self) -> str:
        return "https" if self.material else "http"

    def env(self) -> dict[str, str]:
        """Extra environment of the process (secrets that must not be on the command line)."""
        return {}

    def probe(self, path: str) -> bool:
        """GET `path` on this component, over TLS and with credentials when secured."""
        url = f"{self.endpoint.url}{path}"
        if self.material is None:
            return http_ok(url)
        user = "victoriametrics" if self.name == "victoriametrics" else "operator"
        try:
            return http_ok(
                url,
                context=client_context(self.material.ca_file),
                authorization=basic_auth_header(user, self.material.secret("http", user)),
                refusals_raise=True,
            )
        except urllib.error.HTTPError as exc:
            # Waiting cannot help: the server was started with other credentials.
            raise StackError(
                f"{self.name} at {self.endpoint.url} refused the login of user {user!r} "
                f"(HTTP {exc.code}): {self.material.secret_file('http', user)} does not hold "
                "the password it was started with; restart it with the current material "
                "(devmetrics stack down, then devmetrics stack up)"
            ) from None

    @property
    def endpoint(self) -> Endpoint:
        raise NotImplementedError

    def ports(self) -> dict[str, int]:
        """Ports this component binds, by a name shown in errors."""
        return {f"{self.name} port": self.endpoint.port}

    def prepare(self) -> None:
        """Fetch or install what is missing and write the configuration."""

    def argv(self) -> list[str]:
        raise NotImplementedError

    def healthy(self) -> bool:
        raise NotImplementedError


def http_ok(
    url: str,
    timeout_s: float = 2.0,
    context: ssl.SSLContext | None = None,
    authorization: str | None = None,
    refusals_raise: bool = False,
) -> bool:
    """True when `url` answers 2xx; False when it does not answer (yet). With
    `refusals_raise`, a 401 or 403 raises its HTTPError instead."""
    request = urllib.request.Request(url)
    if authorization:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s, context=context) as resp:
            return 200 <= int(resp.status) < 300
    except urllib.error.HTTPError as exc:
        if refusals_raise and exc.code in (401, 403):
            raise
        return False
    except (urllib.error.URLError, OSError, ValueError):
        return False


def require_binary(binary: str, settings: Settings) -> str:
    """Path of a Debian-packaged binary, installing its package when allowed."""
    found = shutil.which(binary)
    if found:
        return found
    package = DEBIAN_PACKAGES[binary]
    if not settings.stack.install_packages:
        raise StackError(
            f"{binary} is not installed; install the Debian package {package} "
            f"(apt-get install -y {package}) or allow installs"
        )
    if shutil.which("apt-get") is None:
        raise StackError(
            f"{binary} is not installed and apt-get is not available to install "
            f"the package {package}"
        )
    log.info("installing Debian packages: %s", " ".join(DEBIAN_PACKAGES.values()))
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", *sorted(set(DEBIAN_PACKAGES.values()))],
    ):
        result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-10:])
            raise StackError(f"installing {package} failed ({' '.join(cmd)}):\n{tail}")
    found = shutil.which(binary)
    if not found:
        raise StackError(f"{binary} still missing after installing {package}")
    return found


NODE_PORT_STRIDE = 100  # node i of the Kafka cluster: kafka_port + 100·i


def replication_of(brokers: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) of every topic on a cluster of `brokers`:
    three copies and two in sync from three nodes, so an acknowledged write survives the
    loss of any one node; a single node keeps one copy."""
    return (3, 2) if brokers >= 3 else (brokers, 1)


class Kafka(Component):
    """Node ``index`` of the stack's Kafka cluster in KRaft mode (each node a combined
    controller and broker), from Maven Central jars run with Java 17."""

    name = "kafka"

    def __init__(self, settings: Settings, index: int = 0) -> None:
        self.index = index
        self.name = "kafka" if index == 0 else f"kafka-{index}"
        super().__init__(settings)

    @property
    def node_id(self) -> int:
        return self.index + 1

    @property
    def port(self) -> int:
        return self.stack.kafka_port + NODE_PORT_STRIDE * self.index

    @property
    def controller_port(self) -> int:
        return self.stack.kafka_controller_port + NODE_PORT_STRIDE * self.index

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.stack.host, self.port)

    def ports(self) -> dict[str, int]:
        return {
            f"{self.name} port": self.port,
            f"{self.name} controller port": self.controller_port,
        }

    @property
    def libs(self) -> Path:
        return self.stack.cache / f"kafka-{self.stack.kafka_version}" / "libs"

    @property
    def properties(self) -> Path:
        return self.home / "server.properties"

    def prepare(self) -> None:
        java = shutil.which("java")
        if java is None:
            raise StackError(
                "Java is not installed: Kafka needs Java 17 or later "
                "(apt-get install -y openjdk-17-jre-headless)"
            )
        if self.material is not None and self.stack.kafka_brokers > 1:
            raise StackError(
                "a secured stack runs a single Kafka node: set stack.kafka_brokers to 1 "
                "(or turn security off for a multi-node cluster)"
            )
        self._fetch_jars()
        self.home.mkdir(parents=True, exist_ok=True)
        data = self.home / "data"
        if self.material is not None:
            self.material.check()
            # The file holds the broker's SCRAM password: its owner alone may read it.
            self.properties.touch(mode=0o600)
            self.properties.chmod(0o600)
        self.properties.write_text(self._server_properties(data))
        log4j = self.home / "log4j2.properties"
        log4j.write_text(_LOG4J2)
        if not (data / "meta.properties").exists():
            self._format(data)
            self._mode_file.write_text(json.dumps(self._mode()))
        else:
            self._check_mode(data)

    @property
    def _mode_file(self) -> Path:
        return self.home / "data-mode.json"

    def _mode(self) -> dict[str, Any]:
        """How the data folder was formatted: secured or not, and with which SCRAM users
        (a digest of their passwords: the broker authenticates to itself with them)."""
        if self.material is None:
            return {"secured": False}
        digest = hashlib.sha256()
        for user in KAFKA_USERS:
            digest.update(f"{user}:{self.material.secret('kafka', user)}\n".encode())
        return {"secured": True, "users": list(KAFKA_USERS), "scram": digest.hexdigest()}

    def _check_mode(self, data: Path) -> None:
        """Refuse at once a data folder made in another security mode or with other users:
        the broker could not authenticate, and would only fail its health check later."""
        try:
            made = json.loads(self._mode_file.read_text())
        except (OSError, ValueError):
            # Formatted before the mode was recorded: take the current mode as its own.
            self._mode_file.write_text(json.dumps(self._mode()))
            return
        wanted = self._mode()
        if made == wanted:
            return
        if made.get("secured") != wanted["secured"]:
            why = (
                "was made without security; a secured broker needs the SCRAM users that only "
                "formatting creates"
                if wanted["secured"]
                else "was made with security on; it cannot be served without it"
            )
        else:
            why = "was made with other SCRAM credentials (the security folder changed)"
        raise StackError(
            f"the Kafka data in {data} {why}. Reset the stack's data with "
            "`devmetrics stack down --purge` (keeps the security folder) and run "
            "`devmetrics stack up` again"
        )

    def _fetch_jars(self) -> None:
        marker = self.libs / ".complete"
        if marker.exists():
            return
        mvn = shutil.which("mvn")
        if mvn is None:
            raise StackError(
                "Maven is not installed: it fetches the Kafka broker jars "
                "(apt-get install -y maven)"
            )
        pom = infra_dir("kafka", "pom.xml")
        staging = self.libs.with_name("libs.partial")
        shutil.rmtree(staging, ignore_errors=True)
        log.info(
            "fetching Apache Kafka %s jars from Maven Central into %s",
            self.stack.kafka_version,
            self.libs,
        )
        cmd = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            f"-Dkafka.version={self.stack.kafka_version}",
            f"-Dmaven.repo.local={self.stack.cache / 'm2'}",
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            raise StackError(
                f"downloading the Kafka {self.stack.kafka_version} jars failed:\n{tail}"
            )
        shutil.rmtree(self.libs, ignore_errors=True)
        staging.rename(self.libs)
        marker.write_text(self.stack.kafka_version)

    def _listeners(self) -> list[str]:
        host, port, cport = self.stack.host, self.port, self.controller_port
        if self.material is not None:
            from core.kafka_security import broker_properties

            return broker_properties(self.material, host, port, cport)
        return [
            f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}",
            f"advertised.listeners=PLAINTEXT://{host}:{port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        ]

    def _server_properties(self, data: Path) -> str:
        host, brokers = self.stack.host, self.stack.kafka_brokers
        voters = ",".join(
            f"{i + 1}@{host}:{self.stack.kafka_controller_port + NODE_PORT_STRIDE * i}"
            for i in range(brokers)
        )
        replicas, in_sync = replication_of(brokers)
        return "\n".join(
            [
                "# Generated by `devmetrics stack up`; edit the settings, not this file.",
                "process.roles=broker,controller",
                f"node.id={self.node_id}",
                f"controller.quorum.voters={voters}",
                *self._listeners(),
                f"log.dirs={data}",
                f"num.partitions={self.settings.kafka.partitions}",
                f"default.replication.factor={replicas}",
                f"min.insync.replicas={in_sync}",
                f"offsets.topic.replication.factor={replicas}",
                "offsets.topic.num.partitions=12",
                f"transaction.state.log.replication.factor={replicas}",
                f"transaction.state.log.min.isr={in_sync}",
                # A leader that is lost is replaced only by an in-sync replica: no acknowledged
                # write is given up for availability.
                "unclean.leader.election.enable=false",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=false",
                # Backfills produce large batches; 8 MB leaves room over the producers' 1 MB.
                "message.max.bytes=8388608",
                "",
            ]
        )

    def _cluster_id(self) -> str:
        """The cluster's id, made once for the stack home and shared by every node."""
        path = self.stack.home / "kafka-cluster.id"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))
        return path.read_text().strip()

    def _format(self, data: Path) -> None:
        cluster_id = self._cluster_id()
        cmd = [
            "java",
            "-cp",
            f"{self.libs}/*",
            "kafka.tools.StorageTool",
            "format",
            # One argument: a random id may start with "-", which a separate value would
            # turn into an unknown option.
            f"--cluster-id={cluster_id}",
            "-c",
            str(self.properties),
        ]
        if self.material is not None:
            from core.kafka_security import scram_format_args

            cmd += scram_format_args(self.material)
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-10:])
            raise StackError(f"formatting the Kafka log dir {data} failed:\n{tail}")

    def argv(self) -> list[str]:
        return [
            "java",
            f"-Xmx{self.stack.kafka_heap}",
            f"-Xms{self.stack.kafka_heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
            "-cp",
            f"{self.libs}/*",
            "kafka.Kafka",
            str(self.properties),
        ]

    def healthy(self) -> bool:
        from confluent_kafka.admin import AdminClient

        config: dict[str, Any] = {
            "bootstrap.servers": self.endpoint.address,
            "socket.connection.setup.timeout.ms": 2000,
            "logger": _quiet,
        }
        if self.material is not None:
            from core.kafka import client_config
            from core.kafka_security import role_settings

            credentials = role_settings(self.settings.kafka, self.material, "admin")
            config |= client_config(credentials) | {"bootstrap.servers": self.endpoint.address}
        admin = AdminClient(config)
        try:
            # Every node registered: topics of replication factor 3 can then be created.
            return len(admin.list_topics(timeout=2).brokers) >= self.stack.kafka_brokers
        except Exception:
            return False


# librdkafka reports every refused connection while the broker starts; the probe is silent.
_quiet = logging.getLogger("devmetrics.stack.kafka_probe")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False


_LOG4J2 = """\
# Kafka's log, kept by the stack launcher in .stack/logs/kafka.log.
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = warn
logger.state.name = state.change.logger
logger.state.level = warn
logger.clients.name = org.apache.kafka
logger.clients.level = warn
"""


class VictoriaMetrics(Component):
    name = "victoriametrics"

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.stack.host, self.stack.victoriametrics_port, self.scheme)

    def prepare(self) -> None:
        self.binary = require_binary("victoria-metrics", self.settings)
        (self.home / "data").mkdir(parents=True, exist_ok=True)

    def argv(self) -> list[str]:
        secured: list[str] = []
        if self.material is not None:
            from core.security.web import victoriametrics_flags

            secured = victoriametrics_flags(self.material)[0]
        return [
            self.binary,
            f"-httpListenAddr={self.endpoint.address}",
            "-retentionPeriod=400d",
            "-loggerLevel=INFO",
            *secured,
            f"-storageDataPath={self.home / 'data'}",
        ]

    def env(self) -> dict[str, str]:
        if self.material is None:
            return {}
        from core.security.web import victoriametrics_flags

        return victoriametrics_flags(self.material)[1]

    def healthy(self) -> bool:
        return self.probe("/health")


def _copy_config(src: Path, dst: Path) -> None:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)


class Alertmanager(Component):
    name = "alertmanager"

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.stack.host, self.stack.alertmanager_port, self.scheme)

    @property
    def config_dir(self) -> Path:
        return self.home / "config"

    def prepare(self) -> None:
        self.binary = require_binary("prometheus-alertmanager", self.settings)
        src = infra_dir("alertmanager")
        if not (src / "alertmanager.yml").exists():
            raise StackError(f"missing Alertmanager configuration {src / 'alertmanager.yml'}")
        _copy_config(src, self.config_dir)
        cfg_path = self.config_dir / "alertmanager.yml"
        cfg = yaml.safe_load(cfg_path.read_text())
        cfg_path.write_text(yaml.safe_dump(self._localise(cfg), sort_keys=False))
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        _write_web_config(self.material, self.name, self.config_dir)

    def _localise(self, cfg: dict[str, Any]) -> dict[str, Any]:
        """Point the local `webhook` receiver at this stack's alert listener."""
        for receiver in cfg.get("receivers", []):
            if receiver.get("name") == "webhook":
                for hook in receiver.get("webhook_configs", []):
                    hook["url"] = self.stack.alert_webhook_url
        return cfg

    def argv(self) -> list[str]:
        return [
            self.binary,
            f"--web.listen-address={self.endpoint.address}",
            f"--storage.path={self.home / 'data'}",
            # A single local instance: no gossip cluster port.
            "--cluster.listen-address=",
            *_web_config_flag(self.material, self.config_dir),
            f"--config.file={self.config_dir / 'alertmanager.yml'}",
        ]

    def healthy(self) -> bool:
        return self.probe("/-/ready")


# Shard numbers a Prometheus server's keep rule lists: shards 0 to MAX_SHARDS - 1 can be
# split between several servers (RE2 has no arithmetic, so the rule names the numbers).
MAX_SHARDS = 1024


AI_IMPACT_RULES = "rules/ai_impact_alerts.yml"
"""The opt-in rule file the `ai_impact_alerts` stack setting adds to every server."""


def shard_regex(index: int, servers: int, limit: int = MAX_SHARDS) -> str:
    """Shard numbers that server ``index`` of ``servers`` scrapes: s % servers == index."""
    return "|".join(str(shard) for shard in range(index, limit, servers))


class Prometheus(Component):
    """Prometheus server ``index`` of the stack's ``prometheus_servers``.

    Every server scrapes the exporter shards whose number is its index modulo the server
    count, evaluates the rules for the projects it holds, alerts through the one
    Alertmanager and remote-writes to VictoriaMetrics. The first server ("prometheus") also
    scrapes the processors, Alertmanager and VictoriaMetrics.
    """

    name = "prometheus"

    def __init__(self, settings: Settings, index: int = 0) -> None:
        self.index = index
        self.name = "prometheus" if index == 0 else f"prometheus-{index}"
        super().__init__(settings)

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.stack.host, self.stack.prometheus_port + self.index, self.scheme)

    @property
    def config_dir(self) -> Path:
        return self.home / "config"

    @property
    def targets_dir(self) -> Path:
        """file_sd folder shared by every server: the demo and operators drop shard and
        processor target files here."""
        return self.stack.home / "prometheus" / "targets"

    def prepare(self) -> None:
        self.binary = require_binary("prometheus", self.settings)
        src = infra_dir("prometheus")
        if not (src / "prometheus.yml").exists():
            raise StackError(f"missing Prometheus configuration {src / 'prometheus.yml'}")
        _copy_config(src, self.config_dir)
        self.targets_dir.mkdir(parents=True, exist_ok=True)
        cfg_path = self.config_dir / "prometheus.yml"
        cfg = yaml.safe_load(cfg_path.read_text())
        cfg = self._localise(cfg)
        if self.material is not None:
            from core.security.web import secure_prometheus_config

            cfg = secure_prometheus_config(cfg, self.material)
        cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        _write_web_config(self.material, "prometheus", self.config_dir)

    def _localise(self, cfg: dict[str, Any]) -> dict[str, Any]:
        """Point the shipped config at this stack's ports, the shared target folder and, with
        several servers, this server's share of the exporter shards."""
        host = self.stack.host
        if self.stack.ai_impact_alerts:
            cfg["rule_files"] = [*cfg.get("rule_files", []), AI_IMPACT_RULES]
        if self.stack.prometheus_scrape_interval:
            glob = cfg.setdefault("global", {})
            glob["scrape_interval"] = self.stack.prometheus_scrape_interval
            glob["evaluation_interval"] = self.stack.prometheus_scrape_interval
            glob.pop("scrape_timeout", None)
            for job in cfg.get("scrape_configs", []):
                job.pop("scrape_interval", None)
                job.pop("scrape_timeout", None)
        am = f"{host}:{self.stack.alertmanager_port}"
        for manager in (cfg.get("alerting") or {}).get("alertmanagers", []):
            for static in manager.get("static_configs", []):
                static["targets"] = [am]
        for remote in cfg.get("remote_write", []):
            remote["url"] = f"http://{host}:{self.stack.victoriametrics_port}/api/v1/write"
        own = {
            "prometheus": self.endpoint.port,
            "alertmanager": am,
            "victoriametrics": self.stack.victoriametrics_port,
        }
        servers = self.stack.prometheus_servers
        jobs = []
        for job in cfg.get("scrape_configs", []):
            if self.index > 0 and job.get("job_name") not in ("devmetrics-exporters", "prometheus"):
                continue  # the first server watches the pipeline's other parts
            for sd in job.get("file_sd_configs", []):
                sd["files"] = [str(self.targets_dir / Path(f).name) for f in sd.get("files", [])]
            if job.get("job_name") == "devmetrics-exporters" and servers > 1:
                job["relabel_configs"] = [
                    *job.get("relabel_configs", []),
                    {
                        "source_labels": ["shard"],
                        "regex": shard_regex(self.index, servers),
                        "action": "keep",
                    },
                ]
            jobs.append(job)
        cfg["scrape_configs"] = jobs
        for job in jobs:
            if job.get("job_name") in own and job.get("static_configs"):
                target = own[job["job_name"]]
                address = target if isinstance(target, str) else f"{host}:{target}"
                for static in job["static_configs"]:
                    static["targets"] = [address]
        return cfg

    def argv(self) -> list[str]:
        return [
            self.binary,
            f"--web.listen-address={self.endpoint.address}",
            f"--storage.tsdb.path={self.home / 'data'}",
            "--web.enable-lifecycle",
            # Alerts link back to the server that raised them (several servers share one
            # Alertmanager), not to the machine's host name.
            f"--web.external-url={self.endpoint.url}",
            "--storage.tsdb.retention.time=15d",
            *_web_config_flag(self.material, self.config_dir),
            f"--config.file={self.config_dir / 'prometheus.yml'}",
        ]

    def env(self) -> dict[str, str]:
        gogc = self.stack.prometheus_gogc
        return {} if gogc is None else {"GOGC": str(gogc)}

    def healthy(self) -> bool:
        return self.probe("/-/ready")


WEB_CONFIG = "web-config.yml"


def _write_web_config(material: Material | None, service: str, config_dir: Path) -> None:
    """Under the security switch, the TLS and basic-auth web configuration of a service."""
    if material is None:
        return
    from core.security.web import web_config

    (config_dir / WEB_CONFIG).write_text(
        yaml.safe_dump(web_config(material, service), sort_keys=False)
    )


def _web_config_flag(material: Material | None, config_dir: Path) -> list[str]:
    return [] if material is None else [f"--web.config.file={config_dir / WEB_CONFIG}"]


def components_of(settings: Settings) -> list[Component]:
    """The stack's components in start order, one Prometheus per configured server."""
    brokers = [Kafka(settings, i) for i in range(settings.stack.kafka_brokers)]
    servers = [Prometheus(settings, i) for i in range(settings.stack.prometheus_servers)]
    return [*brokers, VictoriaMetrics(settings), Alertmanager(settings), *servers]
