"""WordNet glosses as an offline labelled text corpus (the source proxy for text bodies).

Each synset line of `data.noun|verb|adj|adv` holds a definition after `| `; its class is the
synset's lexicographer file (noun.animal, verb.motion, ...: 45 in all, see lexnames(5WN)). ORCA used
CoNLL-2003 sentences for RoBERTa; any labelled natural text of the body's modality serves, and
WordNet ships with Debian (`wordnet-base`), so it works without a network.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from ..errors import DataError
from .sampling import balanced_indices

# lexnames(5WN): the lexicographer file number in each data line indexes this tuple. Debian's
# wordnet-base does not ship the `lexnames` file, so the names live here.
LEXNAMES: tuple[str, ...] = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event",
    "noun.feeling", "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object",
    "noun.person", "noun.phenomenon", "noun.plant", "noun.possession", "noun.process",
    "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time",
    "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition",
    "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
    "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather", "adj.ppl",
)
DATA_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
# Searched in order when ORCA_WORDNET_DIR is unset: Debian/Ubuntu, Homebrew/local, NLTK's copy.
SEARCH_DIRS = (Path("/usr/share/wordnet"), Path("/usr/local/share/wordnet"),
               Path.home() / "nltk_data" / "corpora" / "wordnet")
INSTALL_HINT = ("install it with `apt-get install wordnet-base` (on Hugging Face Spaces: add `wordnet-base` "
                "to packages.txt), or point ORCA_WORDNET_DIR at a folder holding data.noun/.verb/.adj/.adv")
DEFAULT_CLASSES = 10  # ORCA's source sets have about 10 classes (CIFAR-10, CoNLL tags)


def wordnet_dir() -> Path:
    """The folder holding WordNet's data.* files (ORCA_WORDNET_DIR wins when set)."""
    override = os.environ.get("ORCA_WORDNET_DIR")
    candidates = (Path(override),) if override else SEARCH_DIRS
    for folder in candidates:
        if all((folder / name).is_file() for name in DATA_FILES):
            return folder
    searched = ", ".join(str(p) for p in candidates)
    raise DataError(f"the WordNet corpus (source proxy 'wordnet') was not found in {searched}; {INSTALL_HINT}")


def wordnet_corpus() -> tuple[list[str], np.ndarray]:
    """Every WordNet gloss and its lexicographer-file id: (texts, lexfile (N,) int64)."""
    return _parsed_corpus(wordnet_dir())


@functools.lru_cache(maxsize=2)
def _parsed_corpus(folder: Path) -> tuple[list[str], np.ndarray]:
    # Parsing the 117k lines takes well under a second, so an in-memory memo is enough.
    texts: list[str] = []
    lexfiles: list[int] = []
    for name in DATA_FILES:
        with open(folder / name, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                parsed = _parse_line(line)
                if parsed is not None:
                    texts.append(parsed[0])
                    lexfiles.append(parsed[1])
    if not texts:
        raise DataError(f"the WordNet files in {folder} hold no synsets; {INSTALL_HINT}")
    return texts, np.asarray(lexfiles, dtype=np.int64)


def _parse_line(line: str) -> tuple[str, int] | None:
    """(gloss, lexfile id) of one data line, or None for licence-header and malformed lines."""
    if line.startswith("  "):
        return None
    head, sep, gloss = line.partition(" | ")
    fields = head.split(" ", 2)
    gloss = gloss.strip()
    if not sep or len(fields) < 3 or not fields[1].isdigit() or not gloss:
        return None
    lexfile = int(fields[1])
    return (gloss, lexfile) if lexfile < len(LEXNAMES) else None


def most_frequent_classes(lexfiles: np.ndarray, num_classes: int) -> np.ndarray:
    """Lexicographer-file ids of the `num_classes` largest classes, largest first (ties: lower id)."""
    counts = np.bincount(lexfiles, minlength=len(LEXNAMES))
    order = np.lexsort((np.arange(len(counts)), -counts))  # by count descending, then id
    available = int((counts > 0).sum())
    if not 2 <= num_classes <= available:
        raise DataError(f"wordnet proxy: num_classes = {num_classes} is not allowed; choose 2 to {available}")
    return order[:num_classes]


def wordnet_sentences(n: int, seed: int = 0, num_classes: int = DEFAULT_CLASSES
                      ) -> tuple[list[str], np.ndarray, tuple[str, ...]]:
    """`n` glosses balanced over the `num_classes` most frequent lexicographer classes.

    Returns (texts, labels (n,) int64 in 0..num_classes-1, class names); deterministic for a seed.
    """
    texts, lexfiles = wordnet_corpus()
    kept = most_frequent_classes(lexfiles, num_classes)
    remap = np.full(len(LEXNAMES), -1, dtype=np.int64)
    remap[kept] = np.arange(num_classes)
    labels = remap[lexfiles]
    picked = balanced_indices(labels, n, seed, num_classes)
    return [texts[i] for i in picked], labels[picked], tuple(LEXNAMES[c] for c in kept)
