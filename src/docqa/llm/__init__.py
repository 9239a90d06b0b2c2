"""Package shim while the module is split (see the next commit)."""

from docqa.llm.gguf import *  # noqa: F403
