"""Failures a user fixes without reading code: each says what is wrong in one line, and the
`devmetrics` command exits 1 with that line and no traceback."""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class UserError(Exception):
    """A failure of the environment or the input, said in one line that names the culprit."""


class PortTaken(UserError):
    """A server could not listen on the address it was given."""


def listening(host: str, port: int, what: str, bind: Callable[[], T]) -> T:
    """`bind()`, with an address already in use (or not ours to use) said as one line naming
    `what` and the address."""
    try:
        return bind()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortTaken(
                f"{what} cannot listen on {host}:{port}: another process uses that port; "
                "stop it or give another port"
            ) from None
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EACCES):
            raise PortTaken(f"{what} cannot listen on {host}:{port}: {exc.strerror}") from None
        raise
