"""Ralph's LRS application (``ralph.api:app``) as tests/ralph_lrs.py runs it, with one setting changed.

Ralph 5.1.0's file-system LRS backend writes each POST's statements with its data backend's default
operation, CREATE, which refuses to write to a file that exists: the first POST is stored and every
later one that has something new answers 500 ("fs_lrs.jsonl already exists and overwrite is not
allowed"). Its data backend has an APPEND operation; this makes it the default, and changes nothing
else of Ralph (its validation, its duplicate and conflict handling, its answers are its own).
"""

from ralph.backends.data.base import BaseOperationType
from ralph.backends.lrs.fs import FSLRSBackend

FSLRSBackend.default_operation_type = BaseOperationType.APPEND

from ralph.api import app  # noqa: E402  (after the setting, as the backend is made on import)

__all__ = ["app"]
