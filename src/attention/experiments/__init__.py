"""The experiments behind the notes: one module per note, named after the note's slug
(``docs/{zh,en}/notes/long-sequences.md`` -> ``long_sequences``).

Each module offers what its note measures and shows:

- ``measure(...)`` (and friends) returning data, computed with the library;
- ``table(..., lang=...)`` returning Markdown, ``figure(..., lang=...)`` returning a
  matplotlib figure (``plotting.to_svg`` inlines it in a page);
- ``register(commands)``, which adds its ``python -m attention`` command(s) through
  ``attention.cli.Commands`` (every command gets ``--lang`` and ``--plot FILE``).

Library modules never import from here; experiments import the library.
"""
