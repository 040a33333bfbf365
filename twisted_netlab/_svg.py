# -*- test-case-name: tests.test_svg -*-
"""
Shared pure helpers for netlab's pictures: escaping, linear scales, "nice"
axis ticks and a few SVG elements as text.  Standard library only; no
script, no external asset ever appears in what these build.
"""

from __future__ import annotations

import html
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

__all__ = [
    "AttributeValue",
    "Scale",
    "attributes",
    "element",
    "escape",
    "nice_ticks",
    "sparkline",
    "number",
    "start",
    "svg_document",
    "text",
]

AttributeValue = Union[str, int, float, None]


def escape(value: object) -> str:
    """
    Any value as text safe inside an element or a quoted attribute:
    ``& < > " '`` become entities, so a peer's id or a transcript can
    never open a tag or end an attribute.
    """
    return html.escape(str(value), quote=True)


def number(value: float, digits: int = 3) -> str:
    """
    A coordinate or data value, short and locale-free: at most C{digits}
    decimals, no trailing zeros, never ``-0`` and never an exponent.
    """
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    formatted = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if formatted in ("-0", "") else formatted


def attributes(values: Dict[str, AttributeValue]) -> str:
    """
    `` name="value"`` pairs in the given order, escaped; floats through
    L{number}; C{None} values left out.
    """
    parts = []
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, float):
            value = number(value)
        parts.append(f' {name}="{escape(value)}"')
    return "".join(parts)


def element(tag: str, values: Dict[str, AttributeValue], content: Optional[str] = None) -> str:
    """
    One element: self-closed without C{content}; C{content} is inserted as
    it is (already-built markup; use L{text} for words).
    """
    if content is None:
        return f"<{tag}{attributes(values)}/>"
    return f"<{tag}{attributes(values)}>{content}</{tag}>"


def start(tag: str, values: Dict[str, AttributeValue]) -> str:
    """
    An opening tag, for a group whose children are built one by one.
    """
    return f"<{tag}{attributes(values)}>"


def text(x: float, y: float, words: object, **extra: AttributeValue) -> str:
    """
    A ``<text>`` element holding C{words}, escaped.
    """
    values: Dict[str, AttributeValue] = {"x": float(x), "y": float(y)}
    values.update({name.replace("_", "-"): value for name, value in extra.items()})
    return element("text", values, escape(words))


def nice_ticks(low: float, high: float, count: int = 5) -> List[float]:
    """
    About C{count} round tick values (1, 2 or 5 times a power of ten
    apart) covering C{low..high}: the first at or below C{low}, the last
    at or above C{high}.
    """
    if count < 1:
        raise ValueError("count must be >= 1")
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError("bounds must be finite")
    if high < low:
        low, high = high, low
    if high == low:
        high = low + 1.0
    raw = (high - low) / count
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= raw * (1 - 1e-9))
    first = math.floor(low / step + 1e-9) * step
    ticks = []
    value = first
    while True:
        ticks.append(round(value, 12))
        if value >= high - step * 1e-9:
            break
        value = first + len(ticks) * step
    return ticks


class Scale:
    """
    A linear map from a data domain onto a pixel range (which may run
    backwards, as a y axis does).
    """

    def __init__(self, domain: Tuple[float, float], pixels: Tuple[float, float]) -> None:
        low, high = domain
        if high == low:
            high = low + 1.0
        self.domain = (low, high)
        self.pixels = pixels

    def __call__(self, value: float) -> float:
        low, high = self.domain
        start, end = self.pixels
        return start + (value - low) * (end - start) / (high - low)


def svg_document(width: int, height: int, body: Sequence[str], title: str, **extra: AttributeValue) -> str:
    """
    A standalone SVG document (namespace, size, viewBox, a ``<title>``)
    around the C{body} elements.
    """
    values: Dict[str, AttributeValue] = {
        "xmlns": "http://www.w3.org/2000/svg",
        "width": width,
        "height": height,
        "viewBox": f"0 0 {width} {height}",
        "font-family": "sans-serif",
        "font-size": 11,
    }
    values.update({name.replace("_", "-"): value for name, value in extra.items()})
    return element("svg", values, "\n" + element("title", {}, escape(title)) + "\n" + "\n".join(body) + "\n")


def sparkline(
    values: Sequence[float],
    width: int = 120,
    height: int = 24,
    top: Optional[float] = None,
    reference: Optional[float] = None,
    colour: str = "#1f5fa8",
    **extra: AttributeValue,
) -> str:
    """
    A word-sized inline chart of C{values} (oldest first) from 0 up to
    C{top} (default: the largest value), with an optional dashed
    C{reference} line (a threshold); values above C{top} are drawn at the
    top.  The values themselves go into ``data-values`` (comma-separated)
    and the title says last, min and max.
    """
    values = [float(value) for value in values]
    ceiling = top if top is not None else max(values + [reference or 0.0, 1e-9])
    y = Scale((0.0, ceiling), (height - 1.5, 1.5))
    x = Scale((0.0, max(1, len(values) - 1)), (1.5, width - 4.0))
    parts = [element("rect", {"width": width, "height": height, "fill": "#f4f4f4"})]
    if reference is not None:
        parts.append(element("line", {"x1": 0.0, "x2": float(width), "y1": y(min(reference, ceiling)),
                                      "y2": y(min(reference, ceiling)), "stroke": "#c8102e",
                                      "stroke-dasharray": "3,2", "class": "reference"}))
    points = [(x(index), y(min(value, ceiling))) for index, value in enumerate(values)]
    if len(points) > 1:
        parts.append(element("polyline", {"points": " ".join(f"{number(px, 1)},{number(py, 1)}" for px, py in points),
                                          "fill": "none", "stroke": colour, "stroke-width": 1.2}))
    if points:
        parts.append(element("circle", {"cx": points[-1][0], "cy": points[-1][1], "r": 1.8, "fill": colour}))
        summary = f"last {number(values[-1])}, min {number(min(values))}, max {number(max(values))}"
    else:
        summary = "no data yet"
    parts.append(element("title", {}, escape(summary)))
    values_text = ",".join(number(value) for value in values)
    attributes_: Dict[str, AttributeValue] = {
        "xmlns": "http://www.w3.org/2000/svg", "width": width, "height": height,
        "viewBox": f"0 0 {width} {height}", "class": "sparkline", "data-values": values_text,
        "data-reference": reference,
    }
    attributes_.update({name.replace("_", "-"): value for name, value in extra.items()})
    return element("svg", attributes_, "".join(parts))
