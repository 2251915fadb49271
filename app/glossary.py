"""Words the page uses, in plain language: the glossary, links to its entries, source classes in words.

User-facing text like `messages`, kept apart because it is long. Every term has an anchor
(`#glossary-<key>`); `term(key)` is the Markdown link a step's explanation puts on the word.
"""
from __future__ import annotations

PAPER = "https://arxiv.org/abs/2302.05738"
PAPER_LINK = f"[Shen et al., *Cross-Modal Fine-Tuning: Align then Refine*, ICML 2023]({PAPER})"

# key -> (the word as the page writes it, plain explanation)
TERMS: dict[str, tuple[str, str]] = {
    "orca": ("ORCA", "The method this app shows: reuse a transformer pretrained on text or images for data of "
                     f"another kind, by first aligning a new input layer, then fine-tuning everything ({PAPER_LINK})."),
    "body": ("backbone (body)", "The pretrained transformer that is reused, e.g. MiniLM (text) or Swin (images). "
                                "Its own input layer is replaced by the embedder."),
    "embedder": ("embedder", "The small new input layer that turns your samples (rows, signals, images) into the "
                             "tokens the backbone reads. Alignment trains only this part."),
    "source": ("source data (proxy)", "Labelled data of the backbone's own kind, standing in for what it was "
                                      "trained on: for a text backbone, WordNet definitions grouped by topic (nouns "
                                      "for animals, verbs of motion, ...); for an image backbone, CIFAR-10 pictures. "
                                      "Alignment pulls your embedded data toward it."),
    "otdd": ("OTDD", "Optimal-transport dataset distance: how much work it takes to move one labelled dataset onto "
                     "another, counting both where the points are and how their classes differ. 0 means the two "
                     "look the same to the backbone. Alignment lowers it; a lower OTDD does not always mean better "
                     "accuracy."),
    "objective": ("alignment objective", "What alignment minimises. `otdd-exact`: the OTDD itself, as the paper "
                                         "does; `otdd-gaussian`: a faster OTDD that treats each class as a bell "
                                         "curve; `mmd`: maximum mean discrepancy, a kernel distance that ignores "
                                         "labels; `l2`: the mean squared distance between the two clouds; `none`: no "
                                         "alignment (refine straight away)."),
    "pseudo": ("pseudo-labels", "When your labels are numbers, not classes (regression, dense or multi-label "
                                "targets), alignment still needs groups: your targets are clustered with k-means "
                                "and each cluster is treated as a class. *Pseudo-label clusters* is that k."),
    "scope": ("what is trained (scope)", "`full`: embedder, backbone and head are all fine-tuned (ORCA's default). "
                                         "`layernorm`: only the embedder, the head and the backbone's layer norms, "
                                         "the cheap *FPT* setting of Lu et al. 2021 (frozen pretrained transformer). "
                                         "`frozen-body`: the backbone is not changed at all."),
    "weight_decay": ("weight decay", "A pull of every weight toward zero at each step, which keeps the model "
                                     "simple. AdamW applies it *decoupled* from the gradient step (Loshchilov & "
                                     "Hutter 2019)."),
    "baseline": ("baselines", "Classical models fitted on the same split in seconds: logistic (or ridge) "
                              "regression, 1-nearest-neighbour, and for signals 1-NN with dynamic time warping and "
                              "MiniRocket. ORCA is worth its cost only when it beats them."),
    "majority": ("majority-class rate", "The accuracy of always answering the most frequent class of the test "
                                        "split: the floor any model must beat. Chance level for a balanced set."),
    "projection": ("projection (PCA / UMAP)", "A flat picture of high-dimensional features: PCA keeps the largest "
                                              "linear spread, UMAP keeps who is near whom but bends distances."),
}


def term(key: str, text: str | None = None) -> str:
    """A Markdown link from a word to its glossary entry."""
    return f"[{text or TERMS[key][0]}](#glossary-{key})"


def glossary_markdown() -> str:
    """The glossary as Markdown with one anchor per term (links from the steps land on it)."""
    lines = ["## Words used here", f"The method is from {PAPER_LINK}; the app's own notes are in its README.", ""]
    for key, (word, explanation) in TERMS.items():
        lines.append(f'<a id="glossary-{key}"></a>**{word}**: {explanation}\n')
    return "\n".join(lines)


# WordNet's lexicographer files, the classes of the text source proxy, in words.
_KIND = {"noun": "nouns", "verb": "verbs", "adj": "adjectives", "adv": "adverbs"}
_TOPIC = {
    "adj.all": "descriptive", "adj.pert": "relating to a noun", "adj.ppl": "participles", "adv.all": "all",
    "noun.Tops": "top concepts", "noun.act": "acts", "noun.animal": "animals", "noun.artifact": "man-made things",
    "noun.attribute": "qualities", "noun.body": "the body", "noun.cognition": "thought",
    "noun.communication": "communication", "noun.event": "events", "noun.feeling": "feelings",
    "noun.food": "food", "noun.group": "groups", "noun.location": "places", "noun.motive": "goals",
    "noun.object": "natural objects", "noun.person": "people", "noun.phenomenon": "phenomena",
    "noun.plant": "plants", "noun.possession": "possession", "noun.process": "processes",
    "noun.quantity": "quantities", "noun.relation": "relations", "noun.shape": "shapes", "noun.state": "states",
    "noun.substance": "substances", "noun.time": "time", "verb.body": "the body", "verb.change": "change",
    "verb.cognition": "thinking", "verb.communication": "talking", "verb.competition": "competing",
    "verb.consumption": "eating and using", "verb.contact": "touching", "verb.creation": "making",
    "verb.emotion": "feeling", "verb.motion": "moving", "verb.perception": "perceiving",
    "verb.possession": "owning", "verb.social": "social life", "verb.stative": "being and having",
    "verb.weather": "weather",
}


def plain_source_class(name) -> str:
    """A source class as words: 'noun.artifact' -> 'nouns: man-made things'; others unchanged."""
    text = str(name)
    if text in _TOPIC:
        kind = _KIND.get(text.split(".")[0], text.split(".")[0])
        return f"{kind}: {_TOPIC[text]}"
    return text
