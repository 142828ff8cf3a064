"""Locking the ``pip:`` section of environment.yml against a Python package index.

The conda solution of each platform comes first: it fixes the interpreter (and so the wheel tags and
marker values) and already installs some Python projects, which pip must then not install again.
What is left is resolved with resolvelib against the index, one platform at a time:

- ``requirements``: the ``pip:`` lines (PEP 508 requirements, ``-r``, index options);
- ``target``: wheel tags and marker environment of a conda platform + its conda python;
- ``mapping``: which conda records are Python projects pip sees as installed;
- ``resolve``: the resolvelib provider and readable conflicts;
- ``index`` (with ``simple``, ``metadata``, ``wheel``, ``models``, ``errors``): the index client;
- ``output``: conda-lock.yml ``manager: pip`` entries and ``<name>-<platform>.pip.txt`` files;
- ``lock``: the glue that ``solvent lock`` calls.
"""
