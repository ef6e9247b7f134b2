"""Serves plotly.js from the plotly package itself, so the chart library is never fetched from a
CDN and always matches the Python package that builds the figures."""

from pathlib import Path

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

_DIR = Path(plotly.__file__).resolve().parent / "package_data"
_NAME = "plotly.min.js"
_PREFIX = "vendor/"


class PlotlyJsFinder(BaseFinder):
    def __init__(self, *args, **kwargs):
        self.storage = FileSystemStorage(location=str(_DIR))
        self.storage.prefix = _PREFIX.rstrip("/")

    def check(self, **kwargs):
        return []

    def find(self, path, find_all=False, **kwargs):
        if path == _PREFIX + _NAME:
            match = str(_DIR / _NAME)
            return [match] if find_all else match
        # [] either way, as Django's finders answer: finders.find() wraps anything else in a
        # list, and [None] read as found (WhiteNoise then failed on it: a 500 for any missing
        # static file under DEBUG).
        return []

    def list(self, ignore_patterns):
        yield _NAME, self.storage
