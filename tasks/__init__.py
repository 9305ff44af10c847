"""Tasks, their registry, TFDS builders for local sources, and data loading."""

from tasks import catalog
from tasks.catalog import DEFAULT_SUITE, SHARED_DATA_SUITE
from tasks.data import Split, default_data_dir, default_tfds_dir, load_task_data
from tasks.task import DATA_DIR, Task, get_task, register_task, registered_tasks

__all__ = [
    "DATA_DIR",
    "DEFAULT_SUITE",
    "SHARED_DATA_SUITE",
    "Split",
    "Task",
    "catalog",
    "default_data_dir",
    "default_tfds_dir",
    "get_task",
    "load_task_data",
    "register_task",
    "registered_tasks",
]
