"""Package shim while the module is split (see the next commit)."""

from docqa.evaluation.report import *  # noqa: F403
