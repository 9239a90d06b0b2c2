"""Package shim while the module is split (see the next commit)."""

from docqa.embedding.models import *  # noqa: F403
from docqa.embedding.models import _package_dir  # noqa: F401
