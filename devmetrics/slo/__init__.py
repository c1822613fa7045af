"""`devmetrics slo`: the SLO definitions a project's services get (docs/slo-definitions.md)."""
