"""lidcbench: an honest benchmark harness for lung-nodule analysis on LIDC-IDRI."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lidcbench")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"
