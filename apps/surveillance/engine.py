"""Runs the detectors over a stream of events: each event goes to the detectors that want its
kind, in stream order. Events at or below `emit_after` only build up the windows (they were
analysed by an earlier run); a finding is kept only when an event past it completes a pattern,
so each pattern is reported by exactly one run however the stream is split."""

from collections.abc import Iterable, Iterator

from apps.surveillance.detectors import DETECTORS
from apps.surveillance.detectors.base import Detector, Finding

SWEEP_SECONDS = 120.0  # stream time between sweeps of the detectors' stale state


class Engine:
    def __init__(self, detectors: list[Detector]):
        self.detectors = detectors
        self.routes: dict[str, list] = {}
        for detector in detectors:
            for kind in detector.kinds:
                self.routes.setdefault(kind, []).append(getattr(detector, f"feed_{kind}"))
        self.last_seq = 0
        self.now = 0.0
        self.swept = 0.0

    @classmethod
    def build(cls, params_by_name: dict[str, dict], context=None) -> "Engine":
        """An engine of the named detectors, each with its parameters."""
        return cls([DETECTORS[name](params, context) for name, params in params_by_name.items()])

    def horizon(self) -> float:
        """Seconds of earlier events the detectors need to see before the first new one."""
        return max((d.horizon() for d in self.detectors), default=0.0)

    def run(self, events: Iterable, emit_after: int = 0) -> Iterator[Finding]:
        routes = self.routes
        for ev in events:
            if ev.ts > self.now:
                self.now = ev.ts
                if self.now - self.swept >= SWEEP_SECONDS:
                    if self.swept:
                        for detector in self.detectors:
                            detector.sweep(self.now)
                    self.swept = self.now
            self.last_seq = ev.seq
            feeds = routes.get(ev.kind)
            if feeds:
                for feed in feeds:
                    found = feed(ev)
                    if found is None or ev.seq <= emit_after:
                        continue
                    if isinstance(found, list):
                        yield from found
                    else:
                        yield found
