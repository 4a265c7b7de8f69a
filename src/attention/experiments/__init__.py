"""Experiments behind the notes; each module offers a ``python -m attention`` command."""
