"""Exceptions users see: each says what went wrong and how to fix it."""


class SemclustError(Exception):
    """Base class for errors meant to be shown to the user without a traceback."""


class MissingDependencyError(SemclustError, ImportError):
    """An optional dependency for a backend is not installed."""

    def __init__(self, package: str, extra: str, purpose: str):
        super().__init__(
            f"{purpose} needs the package '{package}', which is not installed. "
            f"Install it with: pip install 'semclust[{extra}]'"
        )


class MissingModelError(SemclustError):
    """Model weights are needed but were not found locally (there is no download at run time)."""


class UnknownBackendError(SemclustError, KeyError):
    """A backend name that no registry knows."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


def require(module: str, extra: str, purpose: str):
    """Import an optional module, or raise a clear 'pip install semclust[extra]' error."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(module.split(".")[0], extra, purpose) from exc
