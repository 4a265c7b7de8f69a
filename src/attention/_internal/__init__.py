"""Internals shared by the library modules, the tests and the benchmark.

Plain names, no re-exports: import what you need from the module that defines it
(``from attention._internal.threads import run_on_all_cores``). Nothing here is public API;
it may change without notice.

- ``validation``: argument checks with messages that name the argument.
- ``problem``: the validated inputs of every attention function (``Problem``, ``prepare``).
- ``dense``: the in-place stable softmax behind ``softmax`` and the dense attention path.
- ``bounds``: numeric limits of the blocked path (headroom, value limit, exp2's fast range).
- ``tiles``: the online softmax over tiles of scores (the blocked path's kernel).
- ``threads``: one thread pool per process, and BLAS held to one thread while it runs.
- ``optim``: Adam, for the small models the experiments train.
"""
