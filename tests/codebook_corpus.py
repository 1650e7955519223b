"""Generated descriptions with planted themes, and a codebook for some of them, for codebook-seeded runs.

Each theme writes sentences from its own subjects, actions and settings (a vision model's
description of one image, roughly), so themes are known and distinct but no two texts are
alike. :func:`make_set` plants the themes whose codes a codebook holds and themes it does not
hold (the "new themes" a seeded run must find outside the codes).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from semclust.core.codebook import Code

THEMES = {
    "protest": (
        "Street protest: people marching with signs, banners and placards at a demonstration.",
        ["a crowd of protesters", "marchers with placards", "demonstrators", "activists holding banners",
         "a line of protesters"],
        ["chant slogans", "march down the avenue", "raise their fists", "hold up handmade signs",
         "block the road in protest"],
        ["outside city hall", "in a packed square", "along a main street", "in front of parliament"],
    ),
    "flood": (
        "Flooding: water covering streets and homes after heavy rain, damage and rescue.",
        ["flood water", "a submerged car", "rescuers in a boat", "residents wading", "a flooded house"],
        ["fills the streets", "rises to the windows", "carry people to safety", "surround the buildings",
         "sweep away debris"],
        ["after days of heavy rain", "in a drowned village", "beside a burst river", "under a grey storm sky"],
    ),
    "food": (
        "Food and meals: dishes, cooking and people eating at a table or restaurant.",
        ["a plate of pasta", "a chef", "a family dinner", "a bowl of soup", "freshly baked bread"],
        ["is served with herbs", "prepares a meal", "sits on a wooden table", "steams in the kitchen",
         "is shared among friends"],
        ["in a cosy restaurant", "in a home kitchen", "at a street food market", "on a candlelit table"],
    ),
    "sports": (
        "Sports: athletes, matches and fans in a stadium celebrating a game.",
        ["football players", "a cheering crowd of fans", "a goalkeeper", "a runner", "the winning team"],
        ["celebrate a goal", "chase the ball", "lift the trophy", "sprint toward the finish line",
         "wave scarves in the stands"],
        ["in a floodlit stadium", "on a green pitch", "at the championship final", "on the running track"],
    ),
    "pets": (
        "Pets: dogs, cats and other companion animals with their owners.",
        ["a small dog", "a sleeping cat", "a puppy", "a kitten", "a golden retriever"],
        ["plays with a ball", "curls up on a blanket", "is adopted from a shelter", "licks its owner's face",
         "chases its tail"],
        ["on the living room sofa", "in a sunny garden", "at the animal shelter", "in the park"],
    ),
    "renewable": (
        "Renewable energy: wind turbines and solar panels, clean power for the climate.",
        ["wind turbines", "rows of solar panels", "an engineer", "a wind farm", "a solar roof"],
        ["turn in the breeze", "gleam in the sun", "generate clean electricity", "stretch to the horizon",
         "power the village"],
        ["on a green hillside", "off the coast", "across the desert", "on a farm field"],
    ),
    "wedding": (
        "Weddings: brides, grooms and guests celebrating a marriage ceremony.",
        ["a bride in a white dress", "the groom", "wedding guests", "the newlyweds", "a bridesmaid"],
        ["exchange rings", "cut the wedding cake", "dance their first dance", "walk down the aisle",
         "throw the bouquet"],
        ["in a flower-decked chapel", "at the reception hall", "in a garden ceremony", "under an arch of roses"],
    ),
    "vigil": (
        "Vigils: mourners holding candles and flowers to remember victims.",
        ["mourners", "a circle of candles", "grieving families", "people with flowers", "a memorial"],
        ["hold candles in silence", "lay flowers and notes", "bow their heads", "hug and weep",
         "light candles for the victims"],
        ["at night outside a school", "at a makeshift memorial", "in the town square after dark",
         "beside a wall of photographs"],
    ),
    "traffic": (
        "Traffic and commuting: cars, buses and congestion on city roads.",
        ["a traffic jam", "commuters on a bus", "a row of cars", "a cyclist", "a taxi"],
        ["wait at a red light", "crawl along the highway", "honk in rush hour", "weave between lanes",
         "queue at the intersection"],
        ["during the morning rush", "on a busy ring road", "in the city centre", "at a crowded junction"],
    ),
}
FRAMES = ("The image shows {s} that {a} {p}.", "{s} {a} {p}; the mood is vivid.",
          "A photo of {s}: they {a} {p}.", "Here {s} {a} {p}, captured in a candid moment.")


def theme_texts(theme: str, n: int, rng: np.random.Generator) -> list[str]:
    _, subjects, actions, places = THEMES[theme]
    return [FRAMES[rng.integers(len(FRAMES))].format(s=rng.choice(subjects), a=rng.choice(actions),
                                                     p=rng.choice(places)) for _ in range(n)]


def codebook_for(themes: list[str]) -> list[Code]:
    return [Code(t, THEMES[t][0]) for t in themes]


def make_set(coded: dict[str, int], unknown: dict[str, int], seed: int = 0) -> tuple[pd.DataFrame, list[Code]]:
    """Items of the ``coded`` themes (in the codebook) and the ``unknown`` ones (not), shuffled."""
    rng = np.random.default_rng(seed)
    rows = [(text, theme) for theme, n in {**coded, **unknown}.items() for text in theme_texts(theme, n, rng)]
    table = pd.DataFrame(rows, columns=["text", "theme"]).sample(frac=1, random_state=seed).reset_index(drop=True)
    table.insert(0, "id", [f"item{i:05d}" for i in range(len(table))])
    return table, codebook_for(list(coded))
