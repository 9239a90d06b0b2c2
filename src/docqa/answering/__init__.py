"""Package shim while the module is split (see the next commit)."""

from docqa.answering.ask import *  # noqa: F403
