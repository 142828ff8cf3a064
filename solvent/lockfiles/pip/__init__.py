"""Locking the ``pip:`` section of environment.yml against PyPI-style indexes."""
