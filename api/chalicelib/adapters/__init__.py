"""Adapters: where the domain meets what is outside it.

* ``embedded.py`` and ``aws.py``: one per backend, each building all five ports into a
  ``ports.Backend``; ``backend.py`` picks one, importing the AWS one (and boto3) only when chosen.
* ``shared.py``: the rules both backends follow (names, keys, retention, cursors), imported by
  both; neither backend imports the other.
* ``http.py``: the HTTP edge for ``api/app.py`` (Chalice): the thread-safe app, JSON bodies, and
  every error in one bilingual shape.

``make lint`` checks these boundaries (the import contracts in pyproject.toml).
"""
