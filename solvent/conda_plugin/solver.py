"""``SolventSolver``: conda's classic pipeline around solvent's resolver.

conda classic turns a command (``install``, ``update --all``, ``remove``, ``--freeze-installed``,
``--no-deps``, ``--prune``, pins, history, ``aggressive_update_packages``, ``auto_update_conda``...)
into one list of MatchSpecs in ``Solver.solve_final_state`` and its helpers, then asks
``Resolve.solve`` for the package set. All of conda's behaviour that users rely on lives in that
spec preparation, so this solver keeps it unchanged (a subclass of ``conda.core.solve.Solver``)
and only replaces the final SAT step: the ``Resolve`` object conda builds is wrapped so that its
``solve()`` runs solvent's CDCL resolver on the same records (see :mod:`.resolve`).

Everything else of classic stays as conda wrote it, on purpose: the repodata comes from conda's
own ``ReducedIndex``/``SubdirData`` (so channels, tokens, caches, ``--exclude-newer``, offline mode
and conda's test fixtures that patch ``SubdirData`` all behave as with classic), and conda's
pre-solve checks (conflicting-spec neutering, inconsistent environments) still use classic's
``Resolve`` helpers.
"""

from __future__ import annotations

from typing import Any

from conda.core.solve import Solver

from solvent.conda_plugin.resolve import SolventResolve


class SolventSolver(Solver):
    """conda's classic ``Solver`` whose final solve is solvent's.

    ``solve_final_state`` is inherited from classic: specs from PrefixData, History, pins, update
    and deps modifiers, prune, force_remove and the FREEZE_INSTALLED-then-retry protocol of conda's
    CLI (``should_retry_solve``) are honoured exactly as classic honours them. With
    ``should_retry_solve`` an unsatisfiable frozen solve raises a bare ``UnsatisfiableError``
    quickly so the CLI retries unfrozen; the last attempt raises
    :class:`~solvent.conda_plugin.resolve.SolventUnsatisfiableError` with solvent's explanation.
    """

    # The cutoffs are applied by conda's ReducedIndex before solvent sees a record, exactly as for
    # classic, so every kind of --exclude-newer policy is supported. (conda resets these flags on
    # every subclass that does not set them itself.)
    supports_exclude_newer_global = True
    supports_exclude_newer_channel = True
    supports_exclude_newer_package = True

    def _prepare(self, prepared_specs: Any) -> tuple[Any, Any]:
        """classic's index and ``Resolve``, with the ``Resolve`` wrapped so its solve is solvent's.

        The wrapper is stored back in ``self._r`` so classic's cache (``_prepared``) hands out the
        same object on the retry after a frozen solve failed.
        """
        index, r = super()._prepare(prepared_specs)
        if not isinstance(r, SolventResolve):
            r = SolventResolve(r, self.subdirs)
            self._r = r
        return index, r
