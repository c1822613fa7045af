"""PromQL text: the selection snippets the dashboards share, and reading expressions back.

A project's series carry no target labels (Prometheus drops ``instance`` and ``job`` at
scrape from every series with a ``project`` label), so a project's series are the same
wherever its shard runs and the snippets select the exported families directly. The reader
finds every series selector and every aggregation in an expression, so a test can check
each name against what is produced, and that a query summing or ranking across projects
reads VictoriaMetrics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from exporters.errors import ExporterError

# The selection of the team and project variables, as a filter (`and on (project)`) or as a
# join that adds the team label (`* on (project) group_left (team)`).
PROJECTS = 'devmetrics_project_info{team=~"$team", project=~"$project"}'
TEAM_PROJECTS = 'devmetrics_project_info{team=~"$team"}'


def series(name: str, **labels: str) -> str:
    """One exported family, restricted to the selected projects."""
    matchers = ", ".join(['project=~"$project"', *(f'{k}="{v}"' for k, v in labels.items())])
    return f"{name}{{{matchers}}}"


def selected(expr: str, projects: str = PROJECTS) -> str:
    """``expr`` (carrying a project label) kept only for the projects of the team variable."""
    return f"({expr}) and on (project) {projects}"


def with_team(expr: str, projects: str = PROJECTS) -> str:
    """``expr`` with the team label joined from the info metric (selected projects only)."""
    return f"({expr}) * on (project) group_left (team) {projects}"


def weighted(ratio: str, weight: str, *, by_team: bool = False) -> str:
    """A fleet ratio weighted by counts, sum(ratio * weight) / sum(weight): never a mean.

    ``ratio`` and ``weight`` are per-project expressions with the same labels.
    """
    product = f"{ratio} * on (project) {weight}"
    if by_team:
        return f"sum by (team) ({with_team(product)}) / (sum by (team) ({with_team(weight)}) > 0)"
    return f"sum ({selected(product)}) / (sum ({selected(weight)}) > 0)"


# --- reading expressions back ---------------------------------------------------------------

# Grafana's built-in variables, replaced by durations before the expression is read.
_BUILTIN = re.compile(r"\$\{?__(?:rate_interval|interval|range)\}?")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[a-zA-Z]*")
_VARIABLE = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*(?::[a-z]+)?\}?")
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:\\.|[^"\\])*)"\s*,?')
# Keywords followed by a parenthesised label list, and the other non-name words of PromQL.
_LABEL_LISTS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
_WORDS = frozenset({"bool", "and", "or", "unless", "offset", "atan2", "inf", "nan"})
_GROUPINGS = frozenset({"by", "without"})
# PromQL's aggregation operators (https://prometheus.io/docs/prometheus/latest/querying/operators/).
AGGREGATIONS = frozenset(
    {
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
    }
)


class PromQLReadError(ExporterError):
    """An expression the reader cannot follow (unbalanced brackets or quotes)."""


@dataclass(frozen=True, slots=True)
class Selector:
    """A series selector: metric name (None for ``{__name__=...}``) and its label matchers."""

    name: str | None
    matchers: tuple[tuple[str, str, str], ...] = field(default=())

    def matcher(self, label: str) -> tuple[str, str] | None:
        """(operator, value) of the first matcher on ``label``, if any."""
        return next(((op, v) for name, op, v in self.matchers if name == label), None)


def _string_end(text: str, start: int) -> int:
    """Index just past the quoted string starting at ``start`` (backslash escapes honoured)."""
    quote, i = text[start], start + 1
    while i < len(text):
        if text[i] == "\\" and quote != "`":
            i += 2
        elif text[i] == quote:
            return i + 1
        else:
            i += 1
    raise PromQLReadError(f"unterminated string at {start} in {text!r}")


def _closing(text: str, start: int, opening: str, closing: str) -> int:
    """Index just past the bracket closing the one at ``start``, skipping quoted text."""
    depth, i = 0, start
    while i < len(text):
        char = text[i]
        if char in "\"'`":
            i = _string_end(text, i)
            continue
        if char == opening:
            depth += 1
        elif char == closing:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise PromQLReadError(f"unbalanced {opening!r} at {start} in {text!r}")


def _tokens(text: str) -> list[tuple[str, str]]:
    """(kind, text) tokens: ident, matchers, string, paren, other; brackets are dropped."""
    tokens: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char == "{":
            end = _closing(text, i, "{", "}")
            tokens.append(("matchers", text[i + 1 : end - 1]))
            i = end
        elif char == "[":
            i = _closing(text, i, "[", "]")
        elif char in "\"'`":
            end = _string_end(text, i)
            tokens.append(("string", text[i:end]))
            i = end
        elif char in "()":
            tokens.append(("paren", char))
            i += 1
        elif char == "$":
            match = _VARIABLE.match(text, i)
            if match is None:
                raise PromQLReadError(f"bad variable at {i} in {text!r}")
            tokens.append(("other", match.group()))
            i = match.end()
        elif (match := _NUMBER.match(text, i)) is not None:
            tokens.append(("other", match.group()))
            i = match.end()
        elif (match := _IDENT.match(text, i)) is not None:
            tokens.append(("ident", match.group()))
            i = match.end()
        else:
            tokens.append(("other", char))
            i += 1
    return tokens


def _matchers(text: str) -> tuple[tuple[str, str, str], ...]:
    found: list[tuple[str, str, str]] = []
    pos = 0
    while pos < len(text.rstrip()):
        match = _MATCHER.match(text, pos)
        if match is None:
            raise PromQLReadError(f"cannot read label matchers {{{text}}}")
        found.append((match[1], match[2], match[3]))
        pos = match.end()
    return tuple(found)


def selectors(expr: str) -> list[Selector]:
    """Every series selector of a PromQL expression, in order of appearance."""
    tokens = _tokens(_BUILTIN.sub("1m", expr))
    if tokens.count(("paren", "(")) != tokens.count(("paren", ")")):
        raise PromQLReadError(f"unbalanced parentheses in {expr!r}")
    found: list[Selector] = []
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        following = tokens[i + 1] if i + 1 < len(tokens) else ("", "")
        if kind == "matchers":
            matchers = _matchers(text)
            name = next((v for label, op, v in matchers if label == "__name__" and op == "="), None)
            found.append(Selector(name, matchers))
        elif kind == "ident":
            word = text.lower()
            if word in _LABEL_LISTS:
                if following == ("paren", "("):
                    depth_end = _skip_parens(tokens, i + 1)
                    i = depth_end
                    continue
            elif word in _WORDS or following == ("paren", "(") or following[1] in _LABEL_LISTS:
                pass  # a keyword, a function or an aggregation
            elif following[0] == "matchers":
                found.append(Selector(text, _matchers(following[1])))
                i += 2
                continue
            else:
                found.append(Selector(text))
        i += 1
    return found


def _skip_parens(tokens: list[tuple[str, str]], start: int) -> int:
    depth = 0
    for j in range(start, len(tokens)):
        if tokens[j] == ("paren", "("):
            depth += 1
        elif tokens[j] == ("paren", ")"):
            depth -= 1
            if depth == 0:
                return j + 1
    raise PromQLReadError("unbalanced parenthesis after a label list")


def metric_names(expr: str) -> set[str]:
    """Names of the series an expression reads; a ``{__name__=~...}`` selector is refused."""
    names: set[str] = set()
    for selector in selectors(expr):
        if selector.name is None:
            raise PromQLReadError(f"selector without a fixed metric name in {expr!r}")
        names.add(selector.name)
    return names


_LABEL_VALUES = re.compile(
    r"^\s*label_values\((?P<expr>.*),\s*(?P<label>[A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$"
)


def variable_expression(query: str) -> tuple[str, str]:
    """(series expression, label) of a ``label_values(expr, label)`` variable query."""
    match = _LABEL_VALUES.match(query)
    if match is None:
        raise PromQLReadError(f"variable query {query!r} is not label_values(expr, label)")
    return match.group("expr"), match.group("label")


@dataclass(frozen=True, slots=True)
class Aggregation:
    """An aggregation of an expression: operator, ``by`` / ``without`` (or None), labels."""

    op: str
    clause: str | None = None
    labels: frozenset[str] = frozenset()

    def keeps(self, label: str) -> bool:
        """Whether the aggregation's result still tells series apart by ``label``."""
        if self.clause == "by":
            return label in self.labels
        if self.clause == "without":
            return label not in self.labels
        # topk, bottomk and limitk keep the labels of the series they pick, but pick across them.
        return False


def _label_list(tokens: list[tuple[str, str]], start: int) -> tuple[frozenset[str], int]:
    """Labels of the parenthesised list opening at ``start``, and the index past it."""
    end = _skip_parens(tokens, start)
    return frozenset(text for kind, text in tokens[start:end] if kind == "ident"), end


def _grouping(tokens: list[tuple[str, str]], at: int) -> str | None:
    """``by`` or ``without`` if the token at ``at`` opens a grouping clause."""
    if at < len(tokens) and tokens[at][0] == "ident" and tokens[at][1].lower() in _GROUPINGS:
        return tokens[at][1].lower()
    return None


def aggregations(expr: str) -> list[Aggregation]:
    """Every aggregation of an expression, in order, with its grouping clause."""
    tokens = _tokens(_BUILTIN.sub("1m", expr))
    found: list[Aggregation] = []
    for i, (kind, text) in enumerate(tokens):
        if kind != "ident" or text.lower() not in AGGREGATIONS:
            continue
        j, labels = i + 1, frozenset[str]()
        clause = _grouping(tokens, j)  # sum by (x) (...)
        if clause is not None:
            labels, j = _label_list(tokens, j + 1)
        if j >= len(tokens) or tokens[j] != ("paren", "("):
            continue  # a metric or label named like an operator
        end = _skip_parens(tokens, j)
        if clause is None and (clause := _grouping(tokens, end)) is not None:  # sum (...) by (x)
            labels, _end = _label_list(tokens, end + 1)
        found.append(Aggregation(text.lower(), clause, labels))
    return found


def across_projects(expr: str) -> bool:
    """Whether the expression sums, counts or ranks series of several projects together."""
    return any(not aggregation.keeps("project") for aggregation in aggregations(expr))
