"""The tracker's publisher: Hub settings checked at construction, one push per changed run."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evallog.errors import ConfigError

__all__ = ["Publisher"]

logger = logging.getLogger(__name__)


class Publisher:
    """Publishes a run to the Hugging Face Hub (formats.md §2.2-2.3).

    Without a push flag only the repo names are computed (no network); with
    one, the token and the write access are checked when it is built, before
    any evaluation runs.
    """

    def __init__(self, settings: Mapping[str, Any], *, default_repo_name: str) -> None:
        from evallog.hub_auth import hub_settings

        self.settings = hub_settings(**settings, default_repo_name=default_repo_name)
        self.publish_on_close = self.settings.enabled
        self._pushed_state: object = None

    @property
    def enabled(self) -> bool:
        return bool(self.settings.enabled)

    @staticmethod
    def state(results_file: Path | None, sample_files: Mapping[str, Path]) -> object:
        return (results_file, tuple(sorted((t, str(p)) for t, p in sample_files.items())))

    def changed(self, results_file: Path | None, sample_files: Mapping[str, Path]) -> bool:
        """Whether the run's files changed since the last push."""
        return self._pushed_state != self.state(results_file, sample_files)

    def push(
        self,
        *,
        model_name: str,
        model_dir_name: str,
        results_file: Path | None,
        sample_files: Mapping[str, Path],
        flavor: str,
        model_source: str | None,
    ) -> Any:
        """Publish the run (results, existing sample files, card) in one commit per repo."""
        if not self.enabled:
            raise ConfigError("push_results_to_hub or push_samples_to_hub must be set to push")
        from evallog.hub import push_run

        report = push_run(
            self.settings,
            model_name=model_name,
            model_dir_name=model_dir_name,
            results_file=results_file,
            sample_files=[p for p in sample_files.values() if p.exists()],
            flavor=flavor,
            model_source=model_source,
        )
        self._pushed_state = self.state(results_file, sample_files)
        return report
