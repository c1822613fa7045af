"""The shared base of devmetrics, below producers, processors and exporters and above schemas:
settings types, Kafka client configuration for both client libraries, TLS material and web
security, input limits, the metric catalogue and the paths of shipped and made files.

It imports nothing of the packages above it (the import-linter contract in pyproject.toml)."""
