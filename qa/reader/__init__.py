"""The reader: candidate sentences → an extractive Answer, by three trained linear models (which
sentence, which clauses, how sure) over named, generic features, with the question's place and
period as hard constraints. `qa train` fits them; the runtime loads `weights.json` with numpy."""

from .model import ReaderUnavailable, Weights, load_weights
from .question import Question, parse_question, resolve_follow_up
from .read import read

__all__ = ["Question", "ReaderUnavailable", "Weights", "load_weights", "parse_question", "read", "resolve_follow_up"]
