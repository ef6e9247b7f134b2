"""Text colours in our stylesheets meet WCAG AA (4.5:1) against the backgrounds they are shown
on. The pairs are read from the CSS rules themselves, so a colour change can't regress it."""

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parent.parent / "static" / "css"
AA = 4.5


def _rules(*names: str) -> dict[str, dict[str, str]]:
    """Selector -> declarations of every rule (inside @media too; later rules add to earlier)."""
    text = "".join((CSS / name).read_text() for name in names)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    rules: dict[str, dict[str, str]] = {}
    # A rule's body has no braces; an @media's header ends at its own "{", so the first rule
    # inside it matches from there.
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", text):
        decls = {}
        for decl in body.split(";"):
            if ":" in decl:
                prop, value = decl.split(":", 1)
                decls[prop.strip()] = value.strip()
        for selector in selectors.split(","):
            rules.setdefault(" ".join(selector.split()), {}).update(decls)
    return rules


RULES = _rules("app.css", "incidents.css")
VARIABLES = {k: v for k, v in RULES[":root"].items() if k.startswith("--")}


def _hex(value: str) -> str:
    value = value.strip()
    while value.startswith("var("):
        value = VARIABLES[value[4:].split(")")[0].strip()]
    match = re.fullmatch(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})", value)
    assert match, f"not a solid colour: {value}"
    digits = match[1]
    return "#" + ("".join(c * 2 for c in digits) if len(digits) == 3 else digits).lower()


def _luminance(colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    light, dark = sorted((_luminance(_hex(a)), _luminance(_hex(b))), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_contrast_is_computed_as_wcag_defines_it():
    assert contrast("#000", "#fff") == pytest.approx(21)
    assert contrast("#b58300", "#ffffff") == pytest.approx(3.38, abs=0.01)


# Backgrounds a coloured text without its own background sits on: panels and table cells
# (white), the page, a hovered row, a done step.
PAGE_BACKGROUNDS = ["var(--panel)", "var(--bg)", "#f9fbfd", "#f8faf9"]
TEXT_ONLY = [
    ".state-on_track",
    ".state-due_soon",
    ".state-overdue",
    ".state-done_on_time",
    ".state-done_late",
    ".state-skipped",
    ".muted",
]


@pytest.mark.parametrize("selector", TEXT_ONLY)
@pytest.mark.parametrize("background", PAGE_BACKGROUNDS)
def test_timer_and_muted_text_reads_on_the_page(selector, background):
    colour = RULES[selector]["color"]
    ratio = contrast(colour, background)
    assert ratio >= AA, f"{selector} {colour} on {background}: {ratio:.2f}:1"


BADGES = sorted(
    s
    for s, decls in RULES.items()
    if "color" in decls
    and "background" in decls
    and re.match(r"(\.badge)?\.(sev|st|role|valid)-|\.badge\.|\.reused", s)
)


def test_the_badges_are_all_checked():
    for badge in (".sev-medium", ".sev-high", ".st-contained", ".badge.st-paused"):
        assert badge in BADGES


@pytest.mark.parametrize("selector", BADGES)
def test_badge_text_reads_on_its_own_background(selector):
    decls = RULES[selector]
    ratio = contrast(decls["color"], decls["background"])
    assert ratio >= AA, f"{selector} {decls['color']} on {decls['background']}: {ratio:.2f}:1"
