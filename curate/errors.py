"""The error hierarchy: what a failure means for the user and for the runner.

The CLI turns every `CurateError` into one sentence on stderr and exits with the error's `exit_code`;
anything else is a bug and keeps its traceback.

Exit codes (documented in the README):
  0  success
  1  the run failed (a stage raised on good input; see `curate status`)
  2  a user mistake: bad option value, missing file, invalid config, unreadable input
  3  the books do not balance (input != kept + removed + quarantined): an internal invariant broke
  4  a trained quality classifier is weak: not clearly above chance or above document length alone
     (`curate train-classifier`; nothing is written unless --allow-weak)
  5  the run finished and published its outputs, but its data drifted beyond a limit of the config's
     `drift:` section (see `curate status --json`, "drift"): a scheduler should have someone look
  6  the run was held before publishing: a source lost more than `--max-source-loss` (`sources.max_loss`)
     of its documents (see `curate status --json`, "sources"); nothing was published
  130  interrupted (Ctrl-C); 143  terminated (SIGTERM): see `curate.cli`
"""

from __future__ import annotations


class CurateError(Exception):
    """Base of every error `curate` raises on purpose."""

    exit_code = 1


class UserError(CurateError):
    """The user can fix this: the message names the problem and the fix."""

    exit_code = 2


class ConfigError(UserError):
    """A pipeline config or option is invalid; the message names the key path."""


class InputError(UserError):
    """An input path is missing, empty or of an unknown format."""


class RunFailed(CurateError):
    """A run stopped because a stage failed on input that was not malformed."""

    exit_code = 1


class InputChanged(CurateError):
    """An input file's size or modification time differs from what the run saw when it started: reading
    it now would count records the run did not plan for, or miss some."""

    exit_code = 1


class BooksUnbalanced(CurateError):
    """input != kept + removed + quarantined at the end of a run."""

    exit_code = 3


class WeakClassifier(CurateError):
    """A trained classifier is not clearly better than chance, or than document length alone, on its
    held-out split (see `curate.quality.evaluation`): it learned nothing, or nothing beyond length."""

    exit_code = 4


class DriftExceeded(CurateError):
    """A finished run's profile changed from the previous run of its lineage beyond a configured limit.
    The run's outputs are published; the exit code tells a scheduler to have someone look."""

    exit_code = 5


class SourceLossExceeded(CurateError):
    """A source lost more than `sources.max_loss` of its documents (often a template over-merge in near
    dedup): the run did its work but was held before publishing anything (curate.runs.sources)."""

    exit_code = 6

    def __init__(self, message: str, run_id: str):
        super().__init__(message)
        self.run_id = run_id
