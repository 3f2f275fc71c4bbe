"""Serve this host's Prometheus metrics on a port of their own.

For hosts that run Celery workers but no web server: the workers write their samples into
PROMETHEUS_MULTIPROC_DIR and this process adds them up for Prometheus to scrape. It has no
authentication: bind it to the private network only.
"""

import time

from django.core.management.base import BaseCommand
from prometheus_client import CollectorRegistry, multiprocess, start_http_server


class Command(BaseCommand):
    help = "Serve the metrics of every process on this host (worker hosts), until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=9101)
        parser.add_argument("--addr", default="127.0.0.1", help="The private interface to use.")

    def handle(self, *args, port: int, addr: str, **options):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        server, _thread = start_http_server(port, addr=addr, registry=registry)
        self.stdout.write(f"Serving this host's metrics on http://{addr}:{port}/metrics")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            server.shutdown()
