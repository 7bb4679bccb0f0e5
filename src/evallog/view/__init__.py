"""``evallog view``: a local web app over folders of runs, live while they are written.

The page is the static report's page (``evallog.report``: same template,
script and style); instead of embedded data blocks it asks the server's JSON
endpoints (:mod:`evallog.view.app`) for the same data shapes. Samples are
read from disk by byte offset (:mod:`evallog.view.lineindex`) and paged,
searched and filtered on the server (:mod:`evallog.view.samples`); the
runs come from :func:`evallog.readers.list_runs` (:mod:`evallog.view.catalog`).

Needs the ``view`` extra (Starlette and uvicorn): ``pip install 'evallog[view]'``.
"""

from __future__ import annotations

__all__ = ["serve", "require_extra"]


def require_extra() -> None:
    """Raise :class:`~evallog.errors.ConfigError` naming the extra when Starlette or uvicorn is missing."""
    from evallog.errors import ConfigError

    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"evallog view needs the view extra ({exc.name} is missing): "
                          "pip install 'evallog[view]'") from exc


def serve(*args: object, **kwargs: object) -> None:
    """See :func:`evallog.view.server.serve`."""
    require_extra()
    from evallog.view.server import serve as _serve

    _serve(*args, **kwargs)  # type: ignore[arg-type]
