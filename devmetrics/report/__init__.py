"""`devmetrics report`: the figures people read without Grafana, as HTML, PNG or Markdown.

`collect` reads them from the store through the dashboards' PromQL (`dashboards.queries`),
`render` writes them, `charts` draws them with matplotlib; see docs/reports.md.
"""
