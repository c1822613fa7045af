"""Shipped configuration of the local stack, as package data (found via `core.paths`): the Kafka
runtime pom, Prometheus and Alertmanager configurations and rules, Grafana provisioning."""
