"""
Tests for L{twisted_netlab._svg}: escaping, numbers, ticks and scales of
netlab's pictures.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ElementTree

from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab._svg import Scale, element, escape, nice_ticks, number, sparkline, svg_document, text


class EscapeTests(SynchronousTestCase):
    def test_markup_and_quotes_become_entities(self):
        """
        Every character that could open a tag or end an attribute is
        replaced, so a peer-chosen string stays text.
        """
        self.assertEqual(escape("<script>\"x\" & 'y'"), "&lt;script&gt;&quot;x&quot; &amp; &#x27;y&#x27;")

    def test_text_and_attributes_are_escaped(self):
        """
        Words in a C{<text>} and every attribute value go through the
        escaping; the result parses as XML with the original text back.
        """
        hostile = "</text><script>alert(1)</script>\" onload=\"x"
        markup = element("g", {"data-id": hostile}, text(1, 2, hostile))
        self.assertNotIn("<script", markup)
        parsed = ElementTree.fromstring(markup)
        self.assertEqual(parsed.get("data-id"), hostile)
        self.assertEqual(parsed[0].text, hostile)


class NumberTests(SynchronousTestCase):
    CASES = [
        (0.0, "0"), (-0.0, "0"), (-0.0001, "0"), (1.0, "1"), (1.5, "1.5"), (2.0004, "2"),
        (2.0005, "2.001"), (123456.789, "123456.789"), (1e-7, "0"), (-3.25, "-3.25"),
    ]

    def test_table(self):
        """
        Numbers print with at most three decimals, no trailing zeros, no
        exponent and never as C{-0}.
        """
        for value, expected in self.CASES:
            self.assertEqual(number(value), expected, value)

    def test_not_finite_is_refused(self):
        """
        NaN and infinity have no place on a chart: they are refused.
        """
        for value in (math.nan, math.inf, -math.inf):
            self.assertRaises(ValueError, number, value)


class TickTests(SynchronousTestCase):
    CASES = [
        ((0.0, 1.0, 5), [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        ((0.0, 31.552, 5), [0.0, 10.0, 20.0, 30.0, 40.0]),
        ((0.0, 7.0, 4), [0.0, 2.0, 4.0, 6.0, 8.0]),
        ((1.0, 100.0, 8), [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]),
        ((5.0, 5.0, 5), [5.0, 5.2, 5.4, 5.6, 5.8, 6.0]),
        ((0.0, 1500.0, 5), [0.0, 500.0, 1000.0, 1500.0]),
    ]

    def test_table(self):
        """
        Ticks are 1, 2 or 5 times a power of ten apart and cover the range.
        """
        for (low, high, count), expected in self.CASES:
            self.assertEqual(nice_ticks(low, high, count), expected, (low, high, count))

    def test_bad_input(self):
        """
        A tick count below one or an infinite bound is refused.
        """
        self.assertRaises(ValueError, nice_ticks, 0.0, 1.0, 0)
        self.assertRaises(ValueError, nice_ticks, 0.0, math.inf)


class ScaleTests(SynchronousTestCase):
    def test_maps_linearly_and_may_run_backwards(self):
        """
        A scale maps its domain's ends to its pixel ends, also when the
        pixels run backwards (a y axis), and an empty domain does not
        divide by zero.
        """
        y = Scale((0.0, 10.0), (300.0, 100.0))
        self.assertEqual((y(0.0), y(5.0), y(10.0)), (300.0, 200.0, 100.0))
        self.assertEqual(Scale((2.0, 2.0), (0.0, 10.0))(2.0), 0.0)


class DocumentTests(SynchronousTestCase):
    def test_standalone_svg(self):
        """
        A document is one C{<svg>} in the SVG namespace with its size,
        viewBox and an escaped title.
        """
        document = svg_document(200, 100, [text(1, 2, "a")], "x < y", id="chart")
        parsed = ElementTree.fromstring(document)
        self.assertEqual(parsed.tag, "{http://www.w3.org/2000/svg}svg")
        self.assertEqual((parsed.get("viewBox"), parsed.get("id")), ("0 0 200 100", "chart"))
        self.assertEqual(parsed.find("{http://www.w3.org/2000/svg}title").text, "x < y")


class SparklineTests(SynchronousTestCase):
    def test_values_reference_and_clipping(self):
        """
        A sparkline carries its values and reference, draws one polyline
        point per value, and draws a value above C{top} at the top.
        """
        parsed = ElementTree.fromstring(sparkline([1.0, 2.5, 9.0], width=100, height=20, top=5.0, reference=4.0))
        self.assertEqual((parsed.get("data-values"), parsed.get("data-reference")), ("1,2.5,9", "4"))
        points = parsed.find("{http://www.w3.org/2000/svg}polyline").get("points").split()
        self.assertEqual(len(points), 3)
        self.assertEqual(float(points[-1].split(",")[1]), 1.5)  # clipped to the top margin
        self.assertEqual(parsed.find("{http://www.w3.org/2000/svg}title").text, "last 9, min 1, max 9")

    def test_empty(self):
        """
        No values yet is an empty chart that says so.
        """
        parsed = ElementTree.fromstring(sparkline([]))
        self.assertEqual(parsed.get("data-values"), "")
        self.assertEqual(parsed.find("{http://www.w3.org/2000/svg}title").text, "no data yet")
