"""A small synthetic corpus of social-media posts, built at run time for ``semclust demo``.

The repository ships no binary files, so the demo draws its own poster-style images with
Pillow in six themes a social scientist would recognise (:data:`DEMO_THEMES`). Each post
has the post text, an ``alt_text`` written like a vision-LLM connotative paragraph (so the
``column:alt_text`` describer can stand in for a paid model), and the ground-truth ``theme``
(for evaluation only; a real study has no such column). ``party``, ``created_at`` and
``retweets`` are metadata with two planted findings for ``semclust analyze`` (see
:func:`_metadata`).

Besides ``n_per_theme`` original posts per theme, the corpus holds the messy cases a real
collection has, so that the demo shows how ingest handles them:

- :data:`N_REPOSTS` reposts: byte-identical copies of an original image under a new id and
  file name, with ``RT @user:`` text and the original's ``alt_text``;
- one near-duplicate: an original re-encoded as JPEG at another quality, with new text;
- one corrupt file (a truncated download: the first third of an original's bytes) and one
  zero-byte file. Their rows are in ``posts.csv`` with post text and theme but an empty
  ``alt_text``, since no model could have described an unreadable image.

About one post text in eight is generic ("Thoughts?") as in real feeds, so the post text
alone separates the themes less well than the descriptions do.

Rows are shuffled and ids assigned in CSV order. Every random choice comes from one
``random.Random(seed)`` and every encoder parameter is set explicitly, so a seed gives the
same bytes on the same Pillow build.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

from semclust.core.errors import SemclustError

logger = logging.getLogger(__name__)

#: Byte-identical reposts added to the corpus.
N_REPOSTS = 4

_SIZES = [(320, 240), (400, 300), (480, 360), (640, 480), (360, 360), (300, 400), (480, 480)]
_FORMATS = ["PNG", "JPEG", "WEBP"]
_FORMAT_WEIGHTS = [5, 4, 2]
_EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
_NEAR_DUPLICATE_QUALITY = 55
_GENERIC_POST_RATE = 0.12
_NUMBERS = (3, 4, 5, 6, 8, 12, 20, 35, 60)

Colour = tuple[int, int, int]
Draw = ImageDraw.ImageDraw
Rng = random.Random


# ----------------------------------------------------------------------------- drawing


@lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont:
    """Pillow's bundled font, which needs no font files on the machine."""
    return ImageFont.load_default(size=size)


def _fitting_font(draw: Draw, text: str, max_width: float, size: int) -> ImageFont.FreeTypeFont:
    """The largest font up to ``size`` in which ``text`` fits into ``max_width``."""
    while size > 8 and draw.textlength(text, font=_font(size)) > max_width:
        size -= 1
    return _font(size)


def _jitter(rng: Rng, colour: Colour, amount: int = 25) -> Colour:
    """Vary a palette colour so no two posters share exact colours."""
    return tuple(min(255, max(0, c + rng.randint(-amount, amount))) for c in colour)


def _circle(draw: Draw, cx: float, cy: float, r: float, **kwargs) -> None:
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], **kwargs)


def _polar(cx: float, cy: float, r: float, degrees: float) -> tuple[float, float]:
    angle = math.radians(degrees)
    return cx + r * math.cos(angle), cy + r * math.sin(angle)


def _wave(w: int, top: float, amplitude: float, phase: float, bottom: float) -> list:
    """Polygon of a wavy water surface from ``top`` down to ``bottom``."""
    points = [(x, top + amplitude * math.sin(x / 23 + phase)) for x in range(0, w + 8, 8)]
    return [*points, (w, bottom), (0, bottom)]


def _draw_renewable(draw: Draw, w: int, h: int, rng: Rng) -> None:
    """Sun, wind turbines and sometimes a solar panel on a green hill."""
    draw.polygon(
        _wave(w, 0.78 * h, 0.03 * h, rng.uniform(0, 6), h), fill=_jitter(rng, (70, 160, 70))
    )
    cx, cy, r = rng.uniform(0.12, 0.35) * w, rng.uniform(0.3, 0.4) * h, rng.uniform(0.06, 0.09) * w
    for k in range(12):
        draw.line(
            [_polar(cx, cy, 1.25 * r, 30 * k), _polar(cx, cy, 1.7 * r, 30 * k)],
            fill=(255, 210, 40),
            width=3,
        )
    _circle(draw, cx, cy, r, fill=(255, 215, 40))
    for _ in range(rng.randint(1, 3)):
        x, top, blade = rng.uniform(0.45, 0.92) * w, rng.uniform(0.3, 0.45) * h, 0.14 * h
        draw.line([(x, top), (x, 0.86 * h)], fill=(245, 245, 245), width=max(3, w // 110))
        start = rng.uniform(0, 120)
        for k in range(3):
            draw.line(
                [(x, top), _polar(x, top, blade, start + 120 * k)], fill=(250, 250, 250), width=4
            )
    if rng.random() < 0.6:
        x0, y0, pw, ph = rng.uniform(0.05, 0.3) * w, 0.7 * h, 0.25 * w, 0.12 * h
        draw.polygon(
            [(x0, y0 + ph), (x0 + pw, y0 + ph), (x0 + pw * 1.15, y0), (x0 + pw * 0.15, y0)],
            fill=(30, 60, 140),
            outline=(200, 200, 220),
        )
        for k in range(1, 4):
            draw.line(
                [(x0 + pw * k / 4, y0 + ph), (x0 + pw * (k / 4 + 0.15), y0)], fill=(200, 200, 220)
            )


def _draw_flood(draw: Draw, w: int, h: int, rng: Rng) -> None:
    """Storm clouds, rain and a house half under brown flood water."""
    for _ in range(rng.randint(2, 4)):
        cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.25, 0.38) * h
        draw.ellipse(
            [cx - 0.14 * w, cy - 0.05 * h, cx + 0.14 * w, cy + 0.06 * h],
            fill=_jitter(rng, (90, 95, 105), 15),
        )
    for _ in range(rng.randint(20, 40)):
        x, y = rng.uniform(0, w), rng.uniform(0.4, 0.7) * h
        draw.line([(x, y), (x - 4, y + 12)], fill=(170, 190, 220), width=1)
    hx, hw = rng.uniform(0.2, 0.6) * w, rng.uniform(0.18, 0.28) * w
    base = 0.55 * h
    draw.rectangle([hx, base, hx + hw, base + 0.3 * h], fill=_jitter(rng, (200, 170, 130)))
    draw.polygon(
        [(hx - 8, base), (hx + hw + 8, base), (hx + hw / 2, base - 0.15 * h)], fill=(120, 50, 40)
    )
    draw.rectangle(
        [hx + hw * 0.2, base + 0.06 * h, hx + hw * 0.45, base + 0.14 * h], fill=(230, 230, 180)
    )
    water = _wave(w, rng.uniform(0.66, 0.74) * h, 0.025 * h, rng.uniform(0, 6), h)
    draw.polygon(water, fill=_jitter(rng, (110, 95, 70), 15))


def _draw_protest(draw: Draw, w: int, h: int, rng: Rng) -> None:
    """A crowd with placards raised above their heads."""
    words = ["NO!", "ACT NOW", "JUSTICE", "HANDS OFF", "RIGHTS", "WE WON'T WAIT", "ENOUGH"]
    for _ in range(rng.randint(2, 4)):
        x, y = rng.uniform(0.08, 0.78) * w, rng.uniform(0.25, 0.42) * h
        pw, ph = rng.uniform(0.16, 0.24) * w, 0.13 * h
        draw.line([(x + pw / 2, y + ph), (x + pw / 2, 0.75 * h)], fill=(120, 80, 40), width=4)
        draw.rectangle(
            [x, y, x + pw, y + ph],
            fill=_jitter(rng, (245, 240, 225), 10),
            outline=(20, 20, 20),
            width=2,
        )
        word = rng.choice(words)
        font = _fitting_font(draw, word, 0.9 * pw, max(10, h // 22))
        draw.text((x + pw / 2, y + ph / 2), word, fill=(200, 20, 20), font=font, anchor="mm")
    for row, y in enumerate((0.78 * h, 0.88 * h)):
        for k in range(rng.randint(7, 12)):
            x = (k + 0.5 * (row % 2) + rng.uniform(-0.2, 0.2)) * w / 9
            skin = _jitter(rng, rng.choice([(240, 200, 170), (190, 140, 100), (120, 80, 55)]), 10)
            draw.rounded_rectangle(
                [x - 0.045 * w, y, x + 0.045 * w, h], radius=8, fill=_jitter(rng, (60, 60, 120), 60)
            )
            _circle(draw, x, y - 0.03 * h, 0.035 * h, fill=skin)


def _draw_food(draw: Draw, w: int, h: int, rng: Rng) -> None:
    """A plate of food seen from above, with cutlery and steam."""
    cx, cy, r = rng.uniform(0.4, 0.6) * w, 0.58 * h, rng.uniform(0.24, 0.3) * h
    _circle(draw, cx, cy, r, fill=(250, 250, 250), outline=(200, 200, 200), width=3)
    _circle(draw, cx, cy, 0.75 * r, fill=_jitter(rng, (240, 225, 190)))
    colours = [(220, 40, 40), (60, 160, 60), (250, 200, 40), (160, 90, 40), (240, 120, 30)]
    for _ in range(rng.randint(5, 9)):
        angle, dist = rng.uniform(0, 360), rng.uniform(0, 0.55 * r)
        px, py = _polar(cx, cy, dist, angle)
        _circle(
            draw, px, py, rng.uniform(0.08, 0.16) * r, fill=_jitter(rng, rng.choice(colours), 15)
        )
    for offset in (-1.35, 1.35):
        x = cx + offset * r
        draw.rounded_rectangle([x - 5, cy - r, x + 5, cy + r], radius=4, fill=(190, 190, 200))
    for k in range(3):
        x0 = cx - 0.3 * r + k * 0.3 * r
        steam = [(x0 + 6 * math.sin(t / 3), cy - r - 4 - t * 2.5) for t in range(12)]
        draw.line(steam, fill=(255, 255, 255), width=2)


def _draw_pets(draw: Draw, w: int, h: int, rng: Rng) -> None:
    """A cat or dog face surrounded by paw prints."""
    fur = _jitter(
        rng, rng.choice([(230, 150, 60), (120, 110, 100), (240, 230, 210), (60, 50, 45)]), 15
    )
    cx, cy, r = rng.uniform(0.35, 0.65) * w, 0.58 * h, rng.uniform(0.2, 0.26) * h
    if rng.random() < 0.5:  # cat: pointed ears and whiskers
        for side in (-1, 1):
            draw.polygon(
                [
                    (cx + side * 0.9 * r, cy - 0.3 * r),
                    (cx + side * 0.8 * r, cy - 1.3 * r),
                    (cx + side * 0.2 * r, cy - 0.85 * r),
                ],
                fill=fur,
            )
        _circle(draw, cx, cy, r, fill=fur)
        for side in (-1, 1):
            for dy in (-4, 4):
                draw.line(
                    [
                        (cx + side * 0.25 * r, cy + 0.25 * r),
                        (cx + side * 1.2 * r, cy + 0.2 * r + dy * 3),
                    ],
                    fill=(30, 30, 30),
                    width=1,
                )
    else:  # dog: floppy ears and a tongue
        _circle(draw, cx, cy, r, fill=fur)
        for side in (-1, 1):
            draw.ellipse(
                [cx + side * r - 0.3 * r, cy - 0.8 * r, cx + side * r + 0.3 * r, cy + 0.4 * r],
                fill=_jitter(rng, fur, 40),
            )
        draw.ellipse(
            [cx - 0.12 * r, cy + 0.45 * r, cx + 0.12 * r, cy + 0.8 * r], fill=(230, 90, 110)
        )
    for side in (-1, 1):
        _circle(draw, cx + side * 0.38 * r, cy - 0.15 * r, 0.12 * r, fill=(20, 20, 20))
        _circle(draw, cx + side * 0.35 * r, cy - 0.19 * r, 0.04 * r, fill=(255, 255, 255))
    draw.polygon(
        [(cx - 0.12 * r, cy + 0.15 * r), (cx + 0.12 * r, cy + 0.15 * r), (cx, cy + 0.3 * r)],
        fill=(60, 30, 30),
    )
    for _ in range(rng.randint(3, 6)):
        px, py, pr = rng.uniform(0.05, 0.95) * w, rng.uniform(0.3, 0.95) * h, 0.025 * h
        _circle(draw, px, py, pr * 1.4, fill=(90, 60, 50))
        for k in range(4):
            _circle(draw, *_polar(px, py, pr * 2.6, 215 + 37 * k), pr * 0.6, fill=(90, 60, 50))


def _draw_sports(draw: Draw, w: int, h: int, rng: Rng) -> None:
    """A pitch with a goal and a ball, sometimes a trophy."""
    draw.rectangle([0, 0.55 * h, w, h], fill=_jitter(rng, (50, 150, 60), 15))
    draw.line([(w / 2, 0.55 * h), (w / 2, h)], fill=(255, 255, 255), width=3)
    draw.ellipse(
        [w / 2 - 0.12 * w, 0.7 * h, w / 2 + 0.12 * w, 0.95 * h], outline=(255, 255, 255), width=3
    )
    gx, gw, gh = rng.uniform(0.05, 0.35) * w, 0.35 * w, 0.22 * h
    for k in range(9):
        draw.line(
            [(gx + gw * k / 8, 0.58 * h - gh), (gx + gw * k / 8, 0.58 * h)], fill=(220, 220, 220)
        )
    draw.rectangle([gx, 0.58 * h - gh, gx + gw, 0.58 * h], outline=(255, 255, 255), width=4)
    bx, by, br = rng.uniform(0.55, 0.85) * w, rng.uniform(0.6, 0.8) * h, 0.07 * h
    _circle(draw, bx, by, br, fill=(250, 250, 250), outline=(20, 20, 20), width=2)
    draw.regular_polygon((bx, by, 0.4 * br), 5, rotation=rng.uniform(0, 72), fill=(20, 20, 20))
    if rng.random() < 0.4:
        tx, ty = rng.uniform(0.75, 0.9) * w, 0.3 * h
        draw.polygon(
            [(tx - 25, ty), (tx + 25, ty), (tx + 12, ty + 40), (tx - 12, ty + 40)],
            fill=(240, 190, 30),
        )
        draw.rectangle([tx - 5, ty + 40, tx + 5, ty + 55], fill=(240, 190, 30))
        draw.rectangle([tx - 15, ty + 55, tx + 15, ty + 62], fill=(120, 80, 30))


# ----------------------------------------------------------------------------- themes


@dataclass(frozen=True)
class _Theme:
    """Everything that makes one theme: palette, icon, headlines and text pools."""

    name: str
    palette: tuple[Colour, ...]
    draw_icon: Callable[[Draw, int, int, Rng], None]
    headlines: tuple[str, ...]
    post_openers: tuple[str, ...]
    post_bodies: tuple[str, ...]
    hashtags: tuple[str, ...]
    emojis: tuple[str, ...]
    moods: tuple[str, ...]
    subjects: tuple[str, ...]
    details: tuple[str, ...]
    closings: tuple[str, ...]


_THEMES = (
    _Theme(
        name="renewable energy",
        palette=((120, 190, 240), (250, 230, 140), (170, 220, 190)),
        draw_icon=_draw_renewable,
        headlines=(
            "GO SOLAR",
            "CLEAN POWER NOW",
            "WIND OF CHANGE",
            "100% RENEWABLE",
            "POWER THE FUTURE",
        ),
        post_openers=(
            "Big news for our town:",
            "Finally!",
            "Proud to share:",
            "Good news:",
            "Did you know?",
        ),
        post_bodies=(
            "our community solar farm is now online",
            "wind power covered {n}% of the grid today",
            "we just put {n} solar panels on the school roof",
            "the new offshore wind park will power {n}k homes",
            "renewables are now cheaper than coal and gas",
            "our co-op installed a heat pump and rooftop solar",
        ),
        hashtags=(
            "#renewables",
            "#solar",
            "#windpower",
            "#cleanenergy",
            "#netzero",
            "#energytransition",
        ),
        emojis=("☀️", "🌱", "💚", "⚡", "🌍", "🌬️"),
        moods=(
            "hope about clean energy",
            "optimism about a sustainable future",
            "pride in the transition to renewable power",
            "confidence that green technology can replace fossil fuels",
        ),
        subjects=(
            "wind turbines turning against a bright sky",
            "rows of solar panels catching the sunlight",
            "a smiling sun above a green hill with wind turbines",
            "solar panels and slender white turbines on a fresh green landscape",
        ),
        details=(
            "the bright yellows and greens suggest growth and environmental responsibility",
            "the clean lines of the turbines symbolise modern, sustainable technology",
            "the sunny palette links renewable energy with progress and wellbeing",
            "the bold slogan promotes solar and wind power as the energy of tomorrow",
        ),
        closings=(
            "It reads as a call to invest in renewable energy and leave fossil fuels behind.",
            "The message is one of climate solutions, clean electricity and a greener economy.",
            "Overall it celebrates the energy transition and a cleaner planet.",
        ),
    ),
    _Theme(
        name="flood disaster",
        palette=((70, 80, 100), (110, 120, 135), (60, 70, 90)),
        draw_icon=_draw_flood,
        headlines=(
            "FLOOD WARNING",
            "HOMES UNDER WATER",
            "STAY SAFE",
            "HELP FLOOD VICTIMS",
            "RIVER BURST ITS BANKS",
        ),
        post_openers=(
            "Heartbreaking.",
            "Urgent:",
            "Please stay safe.",
            "Devastating scenes.",
            "Update from the ground:",
        ),
        post_bodies=(
            "the river burst its banks overnight and {n} homes are flooded",
            "our street is completely under water after the storm",
            "rescue teams evacuated {n} families by boat this morning",
            "the flood destroyed everything in our ground floor",
            "donations needed for families who lost their homes in the flood",
            "another record storm, another town under water",
        ),
        hashtags=(
            "#flood",
            "#storm",
            "#climatecrisis",
            "#disaster",
            "#floodrelief",
            "#extremeweather",
        ),
        emojis=("🌊", "😢", "🙏", "⛈️", "🆘", "💔"),
        moods=(
            "fear and loss in the face of a natural disaster",
            "vulnerability before extreme weather",
            "urgency and distress as floodwaters rise",
            "grief for communities devastated by the flood",
        ),
        subjects=(
            "a house half submerged in muddy brown floodwater",
            "dark storm clouds and heavy rain over a flooded home",
            "a family home cut off by rising water under a grey sky",
            "floodwaters swallowing the ground floor of a house during a storm",
        ),
        details=(
            "the gloomy greys and browns create a mood of danger and destruction",
            "the rain and rising water suggest a catastrophe that is still unfolding",
            "the drowned house symbolises lost safety and displaced families",
            "the heavy sky evokes the power of extreme weather linked to climate change",
        ),
        closings=(
            "It reads as a warning about the human cost of floods and storms.",
            "The message calls for emergency relief, rescue and solidarity with flood victims.",
            "Overall it portrays disaster, damage and the fragility of homes against nature.",
        ),
    ),
    _Theme(
        name="protest",
        palette=((220, 70, 60), (240, 150, 40), (150, 40, 90)),
        draw_icon=_draw_protest,
        headlines=(
            "JOIN THE MARCH",
            "SATURDAY RALLY",
            "OUR VOICES MATTER",
            "STRIKE!",
            "TAKE TO THE STREETS",
        ),
        post_openers=(
            "See you there!",
            "We march on Saturday.",
            "Enough is enough.",
            "Power to the people!",
            "Thousands showed up today.",
        ),
        post_bodies=(
            "{n} thousand people marched through the city centre",
            "workers are on strike until the government listens",
            "bring your banners, meet at the town hall at noon",
            "the police tried to block the rally but we kept marching",
            "students walked out of class to demand their rights",
            "solidarity with everyone standing up for justice",
        ),
        hashtags=("#protest", "#strike", "#solidarity", "#march", "#justice", "#resist"),
        emojis=("✊", "📢", "🔥", "✊🏽", "🪧", "💪"),
        moods=(
            "collective anger and determination",
            "solidarity among citizens demanding change",
            "defiance against those in power",
            "the energy of grassroots political mobilisation",
        ),
        subjects=(
            "a crowd of demonstrators holding hand-painted placards",
            "protesters marching with raised signs and banners",
            "a dense rally of people carrying protest signs with bold slogans",
            "activists gathered shoulder to shoulder with placards held high",
        ),
        details=(
            "the red and orange tones convey urgency, anger and passion",
            "the handwritten signs give the march a grassroots, people-powered feel",
            "the mass of people symbolises strength in numbers and civic resistance",
            "the slogans demand justice and accountability from the government",
        ),
        closings=(
            "It reads as a call to join the demonstration and make one's voice heard.",
            "The message is about activism, workers' and citizens' rights, and political dissent.",
            "Overall it celebrates collective action, strikes and public protest.",
        ),
    ),
    _Theme(
        name="food",
        palette=((250, 220, 180), (240, 200, 200), (230, 240, 210)),
        draw_icon=_draw_food,
        headlines=("TONIGHT'S DINNER", "EASY RECIPE", "SUNDAY BRUNCH", "HOMEMADE", "YUM!"),
        post_openers=(
            "Dinner is served!",
            "Recipe in the comments.",
            "Tried something new tonight:",
            "Weekend cooking:",
            "So good.",
        ),
        post_bodies=(
            "roasted veggies with tomato and feta, ready in {n} minutes",
            "grandma's pasta sauce, slow cooked for hours",
            "a colourful salad bowl with chickpeas and avocado",
            "homemade pizza night with the kids",
            "my five-ingredient curry that everyone asks about",
            "fresh soup for a cold evening",
        ),
        hashtags=("#foodie", "#recipe", "#homecooking", "#dinner", "#yum", "#foodporn"),
        emojis=("😋", "🍝", "🥗", "🍅", "👩‍🍳", "🍲"),
        moods=(
            "comfort and the pleasure of a home-cooked meal",
            "warmth, appetite and domestic enjoyment",
            "the simple joy of sharing good food",
            "cosiness and indulgence around the dinner table",
        ),
        subjects=(
            "a plate of colourful food with a fork and knife beside it",
            "a steaming dish of vegetables and sauce served on a white plate",
            "a freshly cooked meal with tomatoes and herbs seen from above",
            "a hearty home-made dinner plate with cutlery and rising steam",
        ),
        details=(
            "the warm pastel tones make the dish look inviting and delicious",
            "the rising steam suggests a fresh, hot meal straight from the kitchen",
            "the bright ingredients evoke healthy eating and flavourful cooking",
            "the tidy plate presentation resembles a recipe blog or cooking post",
        ),
        closings=(
            "It reads as an invitation to cook, eat and enjoy a tasty recipe.",
            "The message is about cuisine, taste and everyday meals at home.",
            "Overall it celebrates food, cooking and hospitality.",
        ),
    ),
    _Theme(
        name="pets",
        palette=((200, 230, 250), (250, 210, 230), (230, 220, 250)),
        draw_icon=_draw_pets,
        headlines=(
            "ADOPT DON'T SHOP",
            "CUTENESS OVERLOAD",
            "MEET MY BEST FRIEND",
            "HAPPY CAT DAY",
            "GOOD BOY",
        ),
        post_openers=(
            "Look at this face!",
            "Meet our new family member.",
            "Monday mood:",
            "Can't handle the cuteness.",
            "Adoption day!",
        ),
        post_bodies=(
            "our rescue kitten has been home for {n} days now",
            "he stole my socks again and looks so proud",
            "she waited {n} days in the shelter, now she rules the sofa",
            "this good boy deserves all the treats",
            "adopt from your local shelter, they need homes",
            "nap time with my furry best friend",
        ),
        hashtags=(
            "#catsofinstagram",
            "#dogsofinstagram",
            "#adoptdontshop",
            "#pets",
            "#cute",
            "#rescuedog",
        ),
        emojis=("🐱", "🐶", "🐾", "😍", "❤️", "🥰"),
        moods=(
            "affection and tenderness toward a beloved pet",
            "playful cuteness and companionship",
            "warmth and unconditional love between people and animals",
            "joy at adopting a rescued animal",
        ),
        subjects=(
            "a cartoon cat face with big eyes surrounded by paw prints",
            "a friendly dog with floppy ears and its tongue out",
            "an adorable kitten or puppy face framed by little paw prints",
            "a cute furry pet looking straight at the viewer",
        ),
        details=(
            "the soft pastel colours make the animal look gentle and lovable",
            "the paw prints add a playful, childlike touch",
            "the big round eyes appeal to our instinct to care for the animal",
            "the slogan encourages pet adoption and responsible ownership",
        ),
        closings=(
            "It reads as a light-hearted celebration of cats, dogs and animal companions.",
            "The message is about love for pets, animal welfare and shelter adoption.",
            "Overall it conveys the comfort and happiness that pets bring.",
        ),
    ),
    _Theme(
        name="sports",
        palette=((40, 90, 170), (20, 40, 90), (230, 60, 60)),
        draw_icon=_draw_sports,
        headlines=("MATCH DAY", "CHAMPIONS!", "GAME ON", "FINAL WHISTLE", "LET'S GO TEAM"),
        post_openers=(
            "What a game!",
            "Match day!",
            "Unbelievable finish!",
            "We did it!",
            "Proud of the squad.",
        ),
        post_bodies=(
            "3-1 win in the derby, what a goal in the last minute",
            "the team lifted the cup after {n} years",
            "kick-off at 3pm, come and support the club",
            "our striker scored a hat-trick tonight",
            "training hard for the league final",
            "the stadium was electric from the first whistle",
        ),
        hashtags=("#matchday", "#football", "#soccer", "#champions", "#gameday", "#teamspirit"),
        emojis=("⚽", "🏆", "🔥", "💪", "🥅", "🎉"),
        moods=(
            "competitive excitement and team spirit",
            "triumph and the thrill of victory",
            "the passion of fans supporting their club",
            "athletic energy and the drama of a big match",
        ),
        subjects=(
            "a football pitch with a goal and a ball in play",
            "a soccer ball on green grass in front of a net",
            "a stadium field with white lines, a goal and a golden trophy",
            "a ball rolling toward the goal on a freshly marked pitch",
        ),
        details=(
            "the strong blues and greens recall team colours and the playing field",
            "the trophy symbolises winning, glory and a championship title",
            "the ball in motion suggests speed, skill and a decisive moment",
            "the bold headline announces a match and rallies the supporters",
        ),
        closings=(
            "It reads as a celebration of sport, competition and the local team.",
            "The message is about football fandom, winning and athletic achievement.",
            "Overall it evokes the excitement of match day and the league season.",
        ),
    ),
)

#: Names of the demo themes, in the order their posts are generated.
DEMO_THEMES: list[str] = [theme.name for theme in _THEMES]

_GENERIC_POSTS = (
    "Can't stop thinking about this",
    "Thoughts?",
    "Share if you agree!",
    "Saw this today",
    "This. 👇",
    "No words.",
    "Look what came up on my feed",
)
_ALT_FRAMES = (
    "The image conveys a sense of {mood}. It shows {subject}, and {detail}. {closing}",
    "This poster depicts {subject}. Its connotation is {mood}: {detail}. {closing}",
    "{Subject}. The picture evokes {mood}, and {detail}. {closing}",
)
_HANDLES = ("@greenvoice", "@localnews", "@maria_k", "@citywatch", "@jay.t", "@the_daily_post")


# ----------------------------------------------------------------------------- posts


@dataclass(frozen=True)
class _Post:
    """One row of the corpus and the bytes of its image file."""

    theme: str
    payload: bytes
    ext: str
    text: str
    alt_text: str


def _render(theme: _Theme, rng: Rng) -> Image.Image:
    """Draw one poster: gradient background, the theme's icon and a headline band."""
    w, h = rng.choice(_SIZES)
    top, bottom = (_jitter(rng, c) for c in rng.sample(theme.palette, 2))
    img = ImageOps.colorize(Image.linear_gradient("L").resize((w, h)), top, bottom)
    draw = ImageDraw.Draw(img)
    theme.draw_icon(draw, w, h, rng)
    band = _jitter(rng, (25, 25, 35), 20)
    draw.rectangle([0, 0, w, 0.2 * h], fill=band)
    headline = rng.choice(theme.headlines)
    font = _fitting_font(draw, headline, 0.92 * w, max(12, h // 9))
    draw.text((w / 2, 0.1 * h), headline, fill=(255, 255, 255), font=font, anchor="mm")
    return img


def _encode(img: Image.Image, fmt: str, quality: int) -> bytes:
    """Encode with every parameter explicit, so the bytes depend only on the seed."""
    buf = io.BytesIO()
    if fmt == "PNG":
        img.save(buf, format="PNG", compress_level=6, optimize=False)
    elif fmt == "JPEG":
        img.save(
            buf, format="JPEG", quality=quality, optimize=False, progressive=False, subsampling=2
        )
    else:
        img.save(buf, format="WEBP", quality=quality, method=4, lossless=False, exact=False)
    return buf.getvalue()


def _post_text(theme: _Theme, rng: Rng) -> str:
    """A post caption: usually on-theme with hashtags and emojis, sometimes generic."""
    if rng.random() < _GENERIC_POST_RATE:
        return f"{rng.choice(_GENERIC_POSTS)} {rng.choice(theme.emojis)}"
    body = rng.choice(theme.post_bodies).format(n=rng.choice(_NUMBERS))
    opener = rng.choice(theme.post_openers) if rng.random() < 0.7 else ""
    if not opener.endswith(":"):
        body = body[0].upper() + body[1:]
    parts = [opener, body] if opener else [body]
    parts += rng.sample(theme.hashtags, rng.randint(0, 3)) + rng.sample(
        theme.emojis, rng.randint(0, 2)
    )
    return " ".join(parts)


def _alt_text(theme: _Theme, rng: Rng) -> str:
    """A connotative paragraph in the style of a vision-LLM description."""
    subject = rng.choice(theme.subjects)
    return rng.choice(_ALT_FRAMES).format(
        mood=rng.choice(theme.moods),
        subject=subject,
        Subject=subject[0].upper() + subject[1:],
        detail=rng.choice(theme.details),
        closing=rng.choice(theme.closings),
    )


def _original(theme: _Theme, rng: Rng) -> _Post:
    """One original post: a freshly drawn poster with its text and description."""
    img = _render(theme, rng)
    fmt = rng.choices(_FORMATS, weights=_FORMAT_WEIGHTS)[0]
    payload = _encode(img, fmt, quality=rng.choice((75, 85, 92)))
    return _Post(
        theme.name, payload, _EXTENSIONS[fmt], _post_text(theme, rng), _alt_text(theme, rng)
    )


def _theme_named(name: str) -> _Theme:
    return next(theme for theme in _THEMES if theme.name == name)


def _reencoded(payload: bytes, quality: int) -> bytes:
    """The same picture saved again as JPEG, as platforms do with uploads."""
    with Image.open(io.BytesIO(payload)) as img:
        return _encode(img.convert("RGB"), "JPEG", quality)


def _messy_posts(originals: list[_Post], rng: Rng) -> list[_Post]:
    """Reposts, one near-duplicate, one truncated and one empty file, from the originals."""
    picks = rng.sample(range(len(originals)), N_REPOSTS + 3)
    reposts = [
        replace(post, text=f"RT {rng.choice(_HANDLES)}: {post.text}")
        for post in (originals[i] for i in picks[:N_REPOSTS])
    ]
    post = originals[picks[N_REPOSTS]]
    theme = _theme_named(post.theme)
    near = _Post(
        post.theme,
        _reencoded(post.payload, _NEAR_DUPLICATE_QUALITY),
        "jpg",
        _post_text(theme, rng),
        _alt_text(theme, rng),
    )
    truncated, emptied = (originals[i] for i in picks[N_REPOSTS + 1 :])
    corrupt = replace(
        truncated, payload=truncated.payload[: len(truncated.payload) // 3], alt_text=""
    )
    empty = replace(emptied, payload=b"", alt_text="")
    return [*reposts, near, corrupt, empty]


#: The demo's planted findings (see :func:`_metadata`): the first theme is posted about 3x as
#: often by the ``blue`` party as by ``green``, and the second theme gets three times the retweets.
_PARTY_LEANING_THEME, _VIRAL_THEME = 0, 1
_BASE_RETWEETS = 5.0


def _metadata(theme: str, rng: Rng) -> list[str]:
    """``party``, ``created_at`` (a day of 2024) and ``retweets`` for one post, for ``semclust analyze``."""
    index = DEMO_THEMES.index(theme)
    party = "blue" if rng.random() < (0.8 if index == _PARTY_LEANING_THEME else 0.5) else "green"
    posted = date(2024, 1, 1) + timedelta(days=rng.randrange(366))
    rate = _BASE_RETWEETS * (3 if index == _VIRAL_THEME else 1)
    return [party, posted.isoformat(), str(int(rng.expovariate(1 / rate)))]


def _write(folder: Path, posts: list[_Post], rng: Rng) -> Path:
    """Write the image files and ``posts.csv``; ids follow the CSV row order."""
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    csv_path = folder / "posts.csv"
    with csv_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "image", "text", "alt_text", "theme", "party", "created_at", "retweets"])
        for index, post in enumerate(posts, start=1):
            post_id = f"post{index:04d}"
            relative = f"images/{post_id}.{post.ext}"
            (folder / relative).write_bytes(post.payload)
            writer.writerow([post_id, relative, post.text, post.alt_text, post.theme,
                             *_metadata(post.theme, rng)])
    return csv_path


def make_demo_corpus(folder: Path, n_per_theme: int = 40, seed: int = 0) -> Path:
    """Build the demo corpus in ``folder`` and return the path of its ``posts.csv``.

    Parameters
    ----------
    folder : Path
        Where to write ``posts.csv`` and ``images/``; created if missing. Files of the
        same name are overwritten, others are left alone.
    n_per_theme : int
        Original posts per theme; the corpus adds ``N_REPOSTS + 3`` messy rows on top.
    seed : int
        Seed for every random choice; the same seed gives byte-identical files.
    """
    if isinstance(n_per_theme, bool) or not isinstance(n_per_theme, int) or n_per_theme < 2:
        raise SemclustError(f"n_per_theme must be an integer >= 2, got {n_per_theme!r}")
    rng = random.Random(seed)
    originals = [_original(theme, rng) for theme in _THEMES for _ in range(n_per_theme)]
    posts = originals + _messy_posts(originals, rng)
    rng.shuffle(posts)
    csv_path = _write(Path(folder), posts, random.Random(seed + 1))  # apart, so the images stay as they were
    logger.info("wrote demo corpus of %d posts to %s", len(posts), csv_path)
    return csv_path
