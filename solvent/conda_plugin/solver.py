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

from conda.auxlib import NULL
from conda.core.solve import Solver

from solvent.conda_plugin.resolve import SolventResolve


class SolventSolver(Solver):
    """conda's classic ``Solver`` whose final solve is solvent's.

    ``solve_final_state`` is classic's: specs from PrefixData, History, pins, update and deps
    modifiers, prune, force_remove and the FREEZE_INSTALLED-then-retry protocol of conda's CLI
    (``should_retry_solve``) are honoured exactly as classic honours them.
    """

    # The cutoffs are applied by conda's ReducedIndex before solvent sees a record, exactly as for
    # classic, so every kind of --exclude-newer policy is supported. (conda resets these flags on
    # every subclass that does not set them itself.)
    supports_exclude_newer_global = True
    supports_exclude_newer_channel = True
    supports_exclude_newer_package = True

    def solve_final_state(
        self,
        update_modifier: Any = NULL,
        deps_modifier: Any = NULL,
        prune: Any = NULL,
        ignore_pinned: Any = NULL,
        force_remove: Any = NULL,
        should_retry_solve: bool = False,
    ) -> tuple[Any, ...]:
        """The final environment's PackageRecords, in dependency order (classic's contract).

        ``NULL`` means "from conda's context", as in classic. Spelled out here (rather than
        inherited) so the contract conda's CLI relies on is visible where the plugin is defined:
        with ``should_retry_solve`` an unsatisfiable frozen solve raises a bare
        ``UnsatisfiableError`` quickly so the CLI retries unfrozen; the last attempt raises
        :class:`~solvent.conda_plugin.resolve.SolventUnsatisfiableError` with solvent's explanation.
        """
        return super().solve_final_state(
            update_modifier, deps_modifier, prune, ignore_pinned, force_remove, should_retry_solve
        )

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
