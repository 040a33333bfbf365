# -*- test-case-name: tests.ping.test_report -*-
"""
The picture of a ping run (``netlab ping --report FILE``), pure: a
L{PingReport} in, a self-contained SVG or HTML page (no script, no external
asset) out.  Every number drawn comes from the report the text summary
prints; each mark carries its values as ``data-*`` attributes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

from twisted_netlab._svg import AttributeValue, Scale, element, escape, nice_ticks, number, start, svg_document, text
from twisted_netlab.ping._pinger_core import PingReport, ProbeFate, ProbeRecord, histogram, percentile

__all__ = [
    "BAND_THRESHOLD",
    "MAX_PROBE_MARKS",
    "Bucket",
    "REPORT_FORMATS",
    "band_buckets",
    "render_html",
    "render_report",
    "render_svg",
    "report_format",
]

#: Longer runs than this (probes) get SmokePing's band: per time bucket the
#: min..max range, the p10..p90 range and the median coloured by loss.
BAND_THRESHOLD = 60
#: At most this many buckets across the band ...
BAND_BUCKETS = 50
#: ... of at least this many probes each (SmokePing's default step holds
#: 20 pings), so that p10 and p90 differ from min and max.
BAND_MIN_PROBES = 10
#: Runs up to this many probes draw one mark per probe; longer ones only
#: the band (whose buckets still count every loss), so that a
#: million-probe run makes a picture of kilobytes, not of 100 MB.
MAX_PROBE_MARKS = 5000

REPORT_FORMATS = {".svg": "svg", ".html": "html", ".htm": "html"}

WIDTH = 820
LEFT, RIGHT = 64, 20
CHART_TOP, CHART_HEIGHT = 96, 260
HISTOGRAM_TOP, HISTOGRAM_HEIGHT = 418, 150
HEIGHT = 618

COLOUR_REPLY = "#1f5fa8"
COLOUR_LATE = "#d17a00"
COLOUR_LOST = "#c8102e"
#: SmokePing-like median colours by loss share in the bucket.
LOSS_COLOURS = ((0.0, "#1a9641"), (0.05, "#2c7bb6"), (0.2, "#7b3294"), (0.5, "#d7191c"), (1.0, "#000000"))


def report_format(path: str) -> str:
    """
    C{"svg"} or C{"html"} from C{path}'s extension; L{ValueError} for
    anything else.
    """
    lowered = path.lower()
    for suffix, kind in REPORT_FORMATS.items():
        if lowered.endswith(suffix):
            return kind
    raise ValueError(f"--report must name a .svg or .html file, not {path!r}")


@dataclass(frozen=True)
class Bucket:
    """
    One band step: probes C{first_sequence..last_sequence}, the RTTs of
    those answered in time, and how many were not.
    """

    first_sequence: int
    last_sequence: int
    replies: int
    lost: int
    min_ms: Optional[float]
    p10_ms: Optional[float]
    median_ms: Optional[float]
    p90_ms: Optional[float]
    max_ms: Optional[float]


def band_buckets(
    probes: Sequence[ProbeRecord], buckets: int = BAND_BUCKETS, min_probes: int = BAND_MIN_PROBES
) -> List[Bucket]:
    """
    The probes cut into at most C{buckets} consecutive steps of equal size,
    at least C{min_probes} each (SmokePing's "pings per step"; the last
    step may be shorter), each summarised with the same nearest-rank
    percentile as the text report.
    """
    if not probes:
        return []
    size = max(1, min_probes, math.ceil(len(probes) / buckets))
    result = []
    for start in range(0, len(probes), size):
        group = probes[start:start + size]
        rtts = [probe.rtt_ms for probe in group if probe.fate is ProbeFate.REPLIED and probe.rtt_ms is not None]
        result.append(
            Bucket(
                first_sequence=group[0].sequence,
                last_sequence=group[-1].sequence,
                replies=len(rtts),
                lost=len(group) - len(rtts),
                min_ms=min(rtts) if rtts else None,
                p10_ms=percentile(rtts, 0.10),
                median_ms=percentile(rtts, 0.50),
                p90_ms=percentile(rtts, 0.90),
                max_ms=max(rtts) if rtts else None,
            )
        )
    return result


def _loss_colour(lost: int, total: int) -> str:
    share = lost / total if total else 0.0
    for limit, colour in LOSS_COLOURS:
        if share <= limit:
            return colour
    return LOSS_COLOURS[-1][1]


def _summary_lines(report: PingReport, name: str) -> List[str]:
    """
    The text summary's own lines (counts, rtt, jitter), without its title
    and histogram (which the picture draws).
    """
    lines = report.summary_lines(name)[1:]
    if "rtt histogram:" in lines:
        lines = lines[: lines.index("rtt histogram:")]
    return lines


def render_svg(report: PingReport, name: str, interval_seconds: Optional[float] = None) -> str:
    """
    The whole picture as a standalone SVG document.
    """
    body: List[str] = [element("rect", {"width": WIDTH, "height": HEIGHT, "fill": "#ffffff"})]
    body.append(text(LEFT, 22, f"netlab ping {name}", font_size=15, font_weight="bold"))
    for index, line in enumerate(_summary_lines(report, name)):
        body.append(text(LEFT, 40 + 14 * index, line, **{"class": "summary"}))
    body.extend(_rtt_chart(report, interval_seconds))
    body.extend(_histogram_chart(report))
    return svg_document(
        WIDTH, HEIGHT, body, f"netlab ping {name}",
        id="ping-report",
        data_transmitted=report.transmitted,
        data_received=report.received,
        data_loss_percent=float(report.loss_percent),
        data_late=report.late,
        data_errors=report.errors,
    )


def _rtt_chart(report: PingReport, interval_seconds: Optional[float]) -> List[str]:
    probes = report.probes
    right = WIDTH - RIGHT
    bottom = CHART_TOP + CHART_HEIGHT
    drawn_rtts = [probe.rtt_ms for probe in probes if probe.rtt_ms is not None]
    y_ticks = nice_ticks(0.0, max(drawn_rtts) if drawn_rtts else 1.0)
    y = Scale((0.0, y_ticks[-1]), (bottom, CHART_TOP + 12))
    first = probes[0].sequence if probes else 1
    last = probes[-1].sequence if probes else 1
    x = Scale((first - 0.5, last + 0.5), (LEFT, right))
    out = [start("g", {"id": "rtt-chart"})]
    out.append(element("rect", {"x": LEFT, "y": CHART_TOP, "width": right - LEFT, "height": CHART_HEIGHT,
                                "fill": "#fafafa", "stroke": "#999999"}))
    for tick in y_ticks:
        out.append(element("line", {"x1": float(LEFT), "x2": float(right), "y1": y(tick), "y2": y(tick),
                                    "stroke": "#e2e2e2"}))
        out.append(text(LEFT - 6, y(tick) + 4, number(tick), text_anchor="end", **{"class": "y-tick"}))
    out.append(text(14, CHART_TOP + CHART_HEIGHT / 2, "RTT (ms)", text_anchor="middle",
                    transform=f"rotate(-90 14 {number(CHART_TOP + CHART_HEIGHT / 2)})"))
    for tick in nice_ticks(first, last, 8):
        if first <= tick <= last and tick == int(tick):
            out.append(text(x(tick), bottom + 14, int(tick), text_anchor="middle", **{"class": "x-tick"}))
    every = f", one every {interval_seconds:g} s" if interval_seconds else ""
    out.append(text((LEFT + right) / 2, bottom + 30, f"probe (sequence{every})", text_anchor="middle"))
    if not probes:
        out.append(text((LEFT + right) / 2, CHART_TOP + CHART_HEIGHT / 2, "no probes sent", text_anchor="middle"))
    if len(probes) > BAND_THRESHOLD:
        out.extend(_band(probes, x, y))
    if len(probes) <= MAX_PROBE_MARKS:
        radius = 2.5 if len(probes) <= BAND_THRESHOLD else 1.2
        for probe in probes:
            out.append(_probe_mark(probe, x, y, radius))
    out.extend(_legend(right, len(probes) > BAND_THRESHOLD))
    out.append("</g>")
    return out


def _probe_mark(probe: ProbeRecord, x: Scale, y: Scale, radius: float) -> str:
    common: Dict[str, AttributeValue] = {"class": "probe " + probe.fate.value, "data-seq": probe.sequence, "data-fate": probe.fate.value}
    if probe.fate in (ProbeFate.REPLIED, ProbeFate.LATE) and probe.rtt_ms is not None:
        colour = COLOUR_REPLY if probe.fate is ProbeFate.REPLIED else COLOUR_LATE
        common.update({"data-rtt-ms": number(probe.rtt_ms), "cx": x(probe.sequence), "cy": y(probe.rtt_ms),
                       "r": radius, "fill": colour})
        title = f"seq={probe.sequence} {probe.fate.value} {number(probe.rtt_ms)} ms"
        return element("circle", common, element("title", {}, escape(title)))
    # Lost, errored or unanswered: a red tick along the top of the chart.
    left = x(probe.sequence)
    common.update({"x": left - max(radius, 1.0) / 2, "y": float(CHART_TOP + 1), "width": max(radius, 1.0),
                   "height": 10.0, "fill": COLOUR_LOST})
    return element("rect", common, element("title", {}, escape(f"seq={probe.sequence} {probe.fate.value}")))


def _band(probes: Sequence[ProbeRecord], x: Scale, y: Scale) -> List[str]:
    out = []
    for bucket in band_buckets(probes):
        left = x(bucket.first_sequence - 0.5)
        width = x(bucket.last_sequence + 0.5) - left
        values: Dict[str, AttributeValue] = {
            "class": "band",
            "data-first-seq": bucket.first_sequence,
            "data-last-seq": bucket.last_sequence,
            "data-replies": bucket.replies,
            "data-lost": bucket.lost,
        }
        parts = []
        if bucket.min_ms is not None and bucket.max_ms is not None:
            assert bucket.p10_ms is not None and bucket.p90_ms is not None and bucket.median_ms is not None
            values.update({"data-min-ms": number(bucket.min_ms), "data-p10-ms": number(bucket.p10_ms),
                           "data-median-ms": number(bucket.median_ms), "data-p90-ms": number(bucket.p90_ms),
                           "data-max-ms": number(bucket.max_ms)})
            parts.append(element("rect", {"x": left, "width": width, "y": y(bucket.max_ms),
                                          "height": max(0.5, y(bucket.min_ms) - y(bucket.max_ms)),
                                          "fill": "#dddddd"}))
            parts.append(element("rect", {"x": left, "width": width, "y": y(bucket.p90_ms),
                                          "height": max(0.5, y(bucket.p10_ms) - y(bucket.p90_ms)),
                                          "fill": "#9fb3c8"}))
            parts.append(element("line", {"x1": left, "x2": left + width, "y1": y(bucket.median_ms),
                                          "y2": y(bucket.median_ms), "stroke-width": 2,
                                          "stroke": _loss_colour(bucket.lost, bucket.replies + bucket.lost)}))
        total = bucket.replies + bucket.lost
        summary = (f"seq {bucket.first_sequence}-{bucket.last_sequence}: {bucket.lost}/{total} lost"
                   + (f", min {number(bucket.min_ms)} p10 {number(bucket.p10_ms or 0.0)}"
                      f" median {number(bucket.median_ms or 0.0)} p90 {number(bucket.p90_ms or 0.0)}"
                      f" max {number(bucket.max_ms or 0.0)} ms" if bucket.min_ms is not None else ""))
        parts.append(element("title", {}, escape(summary)))
        out.append(element("g", values, "".join(parts)))
    return out


def _legend(right: float, band: bool) -> List[str]:
    items = [(COLOUR_REPLY, "reply"), (COLOUR_LATE, "late reply"), (COLOUR_LOST, "lost (no reply)")]
    if band:
        items += [("#dddddd", "min..max"), ("#9fb3c8", "p10..p90")]
    out = []
    left = right - 110 * len(items)
    for index, (colour, label) in enumerate(items):
        at = left + 110 * index
        out.append(element("rect", {"x": at, "y": float(CHART_TOP - 14), "width": 9, "height": 9, "fill": colour}))
        out.append(text(at + 13, CHART_TOP - 6, label))
    return out


def _histogram_chart(report: PingReport) -> List[str]:
    buckets = histogram(report.rtts_ms)
    right = WIDTH - RIGHT
    bottom = HISTOGRAM_TOP + HISTOGRAM_HEIGHT
    out = [start("g", {"id": "rtt-histogram"})]
    out.append(text(LEFT, HISTOGRAM_TOP - 8, "RTT histogram (replies and duplicates, as the text summary)",
                    font_weight="bold"))
    out.append(element("rect", {"x": LEFT, "y": HISTOGRAM_TOP, "width": right - LEFT, "height": HISTOGRAM_HEIGHT,
                                "fill": "#fafafa", "stroke": "#999999"}))
    if not buckets:
        out.append(text((LEFT + right) / 2, HISTOGRAM_TOP + HISTOGRAM_HEIGHT / 2, "no replies",
                        text_anchor="middle"))
        out.append("</g>")
        return out
    peak = max(count for _, _, count in buckets)
    y_ticks = nice_ticks(0.0, float(peak), 4)
    y = Scale((0.0, y_ticks[-1]), (bottom, HISTOGRAM_TOP + 8))
    for tick in y_ticks:
        if tick == int(tick):
            out.append(text(LEFT - 6, y(tick) + 4, int(tick), text_anchor="end"))
    slot = (right - LEFT) / len(buckets)
    for index, (low, high, count) in enumerate(buckets):
        left = LEFT + slot * index
        upper = "inf" if high == math.inf else "%g" % high
        label = "%g-%s ms" % (low, upper)
        values: Dict[str, AttributeValue] = {"class": "bucket", "data-low-ms": "%g" % low, "data-high-ms": upper, "data-count": count,
                  "x": left + slot * 0.1, "width": slot * 0.8, "y": y(count),
                  "height": bottom - y(count), "fill": COLOUR_REPLY}
        out.append(element("rect", values, element("title", {}, escape(f"{label}: {count}"))))
        if count:
            out.append(text(left + slot / 2, y(count) - 3, count, text_anchor="middle"))
        out.append(text(left + slot / 2, bottom + 14, label, text_anchor="middle", font_size=10))
    out.append("</g>")
    return out


def render_html(report: PingReport, name: str, interval_seconds: Optional[float] = None) -> str:
    """
    A page holding the SVG inline and the text summary below it; its own
    Content-Security-Policy forbids every script and outside load.
    """
    title = f"netlab ping {name}"
    summary = "\n".join(report.summary_lines(name))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        f"<title>{escape(title)}</title>\n"
        "<style>body{font-family:sans-serif;margin:1em;background:#fff;color:#222}"
        "pre{font-size:12px;background:#f4f4f4;padding:.5em}</style>\n</head>\n<body>\n"
        + render_svg(report, name, interval_seconds)
        + f"\n<pre id=\"summary\">{escape(summary)}</pre>\n</body>\n</html>\n"
    )


def render_report(report: PingReport, name: str, path: str, interval_seconds: Optional[float] = None) -> str:
    """
    The report in the format C{path}'s extension names.
    """
    if report_format(path) == "html":
        return render_html(report, name, interval_seconds)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + render_svg(report, name, interval_seconds)
