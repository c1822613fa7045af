"""Errors of the local stack launcher; each names the thing that is wrong."""


class StackError(Exception):
    """A part of the local stack could not be prepared, started or stopped."""
