"""The guided lesson's words: a short narrative per stage, the one formula, and the claim under test.

Plain language on purpose; a practitioner can hide it (the lesson tab's "Show the guide" box).
Numbers never appear here: the checkpoint's answer is written from the run's own numbers
(`app/lessons.py`, `reveal`).
"""
from __future__ import annotations

CLAIM = ("**The claim being tested** (Shen et al., *Cross-Modal Fine-Tuning: Align then Refine*, ICML 2023): a "
         "transformer pretrained on text can solve a task on other data (images, signals, tables) if you first "
         "**align** how your data is embedded with the data it knows, and only then **refine** the whole model. "
         "Alignment should make that fine-tuning work better than starting without it. A 2024 re-analysis "
         "(Garcia-de-Herreros et al.) found this held for some 1-D tasks and not for its 2-D ones: so check it here.")

FORMULA = ("OTDD = min over transport plans π of  Σ π · [ ½ ‖x − x′‖² + ½ W(y, y′) ]\n\n"
           "Moving one of your samples *x* (class *y*) onto a source sample *x′* (class *y′*) costs their squared "
           "distance plus **W(y, y′), the distance between the two classes' clouds**. The cheapest plan therefore "
           "moves whole classes onto source classes that look like them; the label term is what makes this a "
           "distance between *labelled datasets*, not just between point clouds.")

STAGES = {
    "": "Press **Play the lesson**: a recorded run replays here, nothing is trained.",
    "prepare": ("**Getting ready.** The explorer loads your data, the pretrained body (MiniLM, a small sentence "
                "model) and a sample of *source* data: real sentences as the body's own embedding layer sees them. "
                "A new, small *embedder* will turn each of your samples into tokens the body can read."),
    "align": ("**Align: only the embedder learns.** Its goal: make the cloud of your embedded samples look like the "
              "source cloud, as measured by the optimal-transport dataset distance (OTDD):\n\n" + FORMULA + "\n\n"
              "**Look for:** the crosses (your data) leaving the grey ghost (where they started) toward the circles "
              "(the source); the black line, the path of your data's centre; the objective curve falling, then "
              "flattening (the run stops at the plateau)."),
    "refine": ("**Refine: everything learns your labels.** Embedder, body and head train together. Top: the training "
               "loss; bottom: the validation score, which picks the checkpoint that is kept.\n\n**Look for:** how "
               "fast the validation score climbs at the start. That early help is what alignment promises."),
    "evaluate": ("**Test, once.** The held-out test split is scored a single time. Beside it, classical models fitted "
                 "on the same split: the honest yardstick. A big pretrained model that loses to logistic "
                 "regression is worth knowing about."),
    "done": ("**Your turn.** Before you look at the comparison, predict: *will alignment help on this data?* Then "
             "reveal the answer: it is read from the runs' own numbers."),
}

QUESTION = "Will alignment help on this data?"
CHOICES = ["Yes, clearly", "A little", "No difference", "It will hurt"]
