"""Lockfile writers and readers: @EXPLICIT files and conda-lock.yml."""
