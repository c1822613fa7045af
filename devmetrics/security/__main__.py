"""`python -m devmetrics.security`: the `security` commands without the root command."""

from devmetrics.security.cli import security

security()
