"""
Reading what a collector exposes, for the metrics tests: the samples are
rendered by prometheus_client and parsed back with its own parser, so a
test sees exactly what a scraper would.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from twisted_netlab._metrics import enable_all, make_registry


def scrape(*collectors: Any) -> Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float]:
    """
    {(sample name, sorted labels): value} of everything C{collectors}
    expose (after enabling them, as a metrics endpoint does).
    """
    enable_all(collectors)
    text = generate_latest(make_registry(collectors, ["test"])).decode("utf-8")
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples
