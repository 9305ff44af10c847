"""A user's task module that fails on import (tests/test_user_errors.py)."""

raise RuntimeError("this module fails on import")
