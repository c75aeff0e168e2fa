#!/usr/bin/env python3
"""Sends metrics to mastiff with real statsd client libraries, as applications do.

  clients.py etsy HOST UDP_PORT TCP_PORT      statsd (PyPI "statsd", the Etsy-style client),
                                              Mastodon ≤ 4.2's names over UDP and TCP
  clients.py dogstatsd HOST UDP_PORT SOCKET   datadog's DogStatsd over UDP and a Unix socket
"""
import sys


def etsy(host, udp_port, tcp_port):
    import statsd

    udp = statsd.StatsClient(host, int(udp_port), prefix="Mastodon.production")
    udp.timing("web.Api.V1.StatusesController.create.json.total_duration", 182.5)
    udp.timing("web.Api.V1.StatusesController.create.json.db_time", 40)
    udp.incr("web.Api.V1.StatusesController.create.json.status.200")
    udp.incr("sidekiq.ActivityPub.DeliveryWorker.success", 3)
    udp.gauge("sidekiq.queues.push.enqueued", 12)
    udp.gauge("sidekiq.queues.push.enqueued", 3, delta=True)
    # A pipeline sends several lines in one datagram.
    with udp.pipeline() as pipe:
        for _ in range(5):
            pipe.incr("web.HomeController.index.html.status.302")
        pipe.timing("db.tables.statuses.queries.select.duration", 1.5)
    tcp = statsd.TCPStatsClient(host, int(tcp_port), prefix="Mastodon.production")
    tcp.incr("sidekiq.LinkCrawlWorker.failure")
    tcp.timing("sidekiq.LinkCrawlWorker.processing_time", 250)
    tcp.close()


def dogstatsd(host, udp_port, socket_path):
    from datadog.dogstatsd import DogStatsd

    options = dict(disable_telemetry=True, constant_tags=[])
    udp = DogStatsd(host=host, port=int(udp_port), **options)
    udp.increment("shop.orders", 2, tags=["region:eu", "tier:gold"])
    udp.gauge("shop.queue", 7, tags=["region:eu"])
    udp.histogram("shop.payload", 512, tags=["region:eu"])
    udp.distribution("shop.latency", 0.25)
    udp.timing("shop.render", 40)
    udp.flush()
    uds = DogStatsd(socket_path=socket_path, **options)
    uds.increment("shop.orders", 1, tags=["region:us", "tier:basic"])
    # Same family, other label names: a conflict mastiff must count, not expose.
    uds.increment("shop.orders", 1, tags=["region:us"])
    uds.flush()


if __name__ == "__main__":
    {"etsy": etsy, "dogstatsd": dogstatsd}[sys.argv[1]](*sys.argv[2:])
