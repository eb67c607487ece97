"""The REST API, web UI host and MQTT publisher of ``scenewatch serve`` (FastAPI; ``pip install 'scenewatch[serve]'``).

Importing this package is light: FastAPI is imported by :mod:`scenewatch.api.app` only.
"""
