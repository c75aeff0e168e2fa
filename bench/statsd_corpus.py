"""Mastodon-shaped statsd traffic, as Mastodon ≤ 4.2 sends it (nsa gem over statsd-ruby):
per web request, the action's total/db/view timers, its status counter, a few ActiveRecord
query timers and cache timers; per Sidekiq job, its processing time, success or failure, and
the ten gauges the nsa middleware publishes after every job. Deterministic (seeded)."""
import random

CONTROLLERS = [
    ("Api.V1.Timelines.HomeController", ["show"]), ("Api.V1.Timelines.PublicController", ["show"]),
    ("Api.V1.Timelines.TagController", ["show"]), ("Api.V1.StatusesController", ["show", "create", "destroy", "context"]),
    ("Api.V1.Statuses.FavouritesController", ["create", "destroy"]), ("Api.V1.Statuses.ReblogsController", ["create"]),
    ("Api.V1.NotificationsController", ["index", "show", "clear"]), ("Api.V1.AccountsController", ["show", "follow", "unfollow"]),
    ("Api.V1.Accounts.StatusesController", ["index"]), ("Api.V1.Accounts.RelationshipsController", ["index"]),
    ("Api.V1.MediaController", ["create", "show"]), ("Api.V2.MediaController", ["create"]), ("Api.V2.SearchController", ["index"]),
    ("Api.V1.ConversationsController", ["index"]), ("Api.V1.MarkersController", ["index", "create"]),
    ("Api.V1.InstancesController", ["show"]), ("Api.V2.InstancesController", ["show"]), ("Api.V1.CustomEmojisController", ["index"]),
    ("Api.V1.FiltersController", ["index"]), ("Api.V2.FiltersController", ["index"]), ("Api.V1.ListsController", ["index"]),
    ("Api.V1.Trends.TagsController", ["index"]), ("Api.V1.Trends.StatusesController", ["index"]),
    ("Api.V1.Push.SubscriptionsController", ["create", "show"]), ("ActivityPub.InboxesController", ["create"]),
    ("ActivityPub.OutboxesController", ["show"]), ("ActivityPub.CollectionsController", ["show"]),
    ("ActivityPub.RepliesController", ["index"]), ("AccountsController", ["show"]), ("StatusesController", ["show", "activity"]),
    ("HomeController", ["index"]), ("WellKnown.WebfingerController", ["show"]), ("WellKnown.NodeInfoController", ["index"]),
    ("WellKnown.HostMetaController", ["show"]), ("MediaProxyController", ["show"]), ("MediaController", ["show"]),
    ("Oauth.TokensController", ["create", "revoke"]), ("Auth.SessionsController", ["new", "create"]),
    ("Settings.PreferencesController", ["show", "update"]), ("Admin.DashboardController", ["index"]),
    ("Admin.AccountsController", ["index", "show"]), ("Admin.ReportsController", ["index", "show"]),
    ("TagsController", ["show"]), ("AboutController", ["show"]), ("ManifestsController", ["show"]),
]
FORMATS = ["json", "json", "json", "html", "activity_json", "all"]
STATUSES = [200] * 40 + [201, 202, 204, 301, 302, 302, 304, 400, 401, 403, 404, 404, 410, 422, 429, 500, 503]
TABLES = ["statuses", "accounts", "users", "follows", "notifications", "media_attachments", "conversations", "mentions",
          "favourites", "status_stats", "account_stats", "preview_cards", "tags", "statuses_tags", "custom_emojis",
          "oauth_access_tokens", "web_push_subscriptions", "markers", "lists", "blocks", "mutes", "domain_blocks",
          "settings", "site_uploads", "instances", "account_domain_blocks", "status_pins", "bookmarks", "polls",
          "poll_votes", "announcements", "reports", "account_conversations", "featured_tags", "invites", "ip_blocks",
          "email_domain_blocks", "unavailable_domains", "account_notes", "follow_requests"]
OPERATIONS = ["select"] * 8 + ["insert", "update", "delete"]
CACHE_OPS = ["read", "read", "fetch_hit", "write", "generate", "delete", "exist?"]
WORKERS = ["ActivityPub.DeliveryWorker", "ActivityPub.ProcessingWorker", "ActivityPub.DistributionWorker",
           "ActivityPub.FetchRepliesWorker", "ActivityPub.SynchronizeFeaturedCollectionWorker", "ActivityPub.LowPriorityDeliveryWorker",
           "LinkCrawlWorker", "ThreadResolveWorker", "PushUpdateWorker", "FeedInsertWorker", "LocalNotificationWorker",
           "DistributionWorker", "Web.PushNotificationWorker", "RedownloadAvatarWorker", "RedownloadMediaWorker",
           "PollExpirationNotifyWorker", "RemoveStatusWorker", "ResolveAccountWorker", "Scheduler.IndexingScheduler",
           "Scheduler.ScheduledStatusesScheduler", "Scheduler.VacuumScheduler", "Scheduler.Trends.RefreshScheduler",
           "PublishScheduledStatusWorker", "MoveWorker", "UnfollowFollowWorker", "AfterAccountDomainBlockWorker",
           "DomainBlockWorker", "VerifyAccountLinksWorker", "BackupWorker", "AccountDeletionWorker"]
QUEUES = ["default", "push", "pull", "ingress", "mailers", "scheduler", "fasp"]
NS = "Mastodon.production"


def request(r):
    controller, actions = r.choice(CONTROLLERS)
    key = f"{NS}.web.{controller}.{r.choice(actions)}.{r.choice(FORMATS)}"
    total = r.lognormvariate(4, 1)
    db = total * r.random() * 0.5
    lines = [f"{key}.total_duration:{total:.3f}|ms", f"{key}.db_time:{db:.3f}|ms",
             f"{key}.view_time:{total * 0.2:.3f}|ms", f"{key}.status.{r.choice(STATUSES)}:1|c"]
    for _ in range(r.randint(1, 4)):
        lines.append(f"{NS}.db.tables.{r.choice(TABLES)}.queries.{r.choice(OPERATIONS)}.duration:{r.lognormvariate(0, 1):.3f}|ms")
    for _ in range(r.randint(0, 2)):
        lines.append(f"{NS}.cache.{r.choice(CACHE_OPS)}.duration:{r.lognormvariate(-1, 1):.3f}|ms")
    return lines


def job(r):
    worker = r.choice(WORKERS)
    queue = r.choice(QUEUES)
    lines = [f"{NS}.sidekiq.{worker}.processing_time:{r.lognormvariate(5, 1.5):.3f}|ms",
             f"{NS}.sidekiq.{worker}.{'failure' if r.random() < 0.02 else 'success'}:1|c"]
    for gauge in ["dead_size", "enqueued", "failed", "processed", "processes_size", "retry_size", "scheduled_size", "workers_size"]:
        lines.append(f"{NS}.sidekiq.{gauge}:{r.randint(0, 5000)}|g")
    lines.append(f"{NS}.sidekiq.queues.{queue}.enqueued:{r.randint(0, 500)}|g")
    lines.append(f"{NS}.sidekiq.queues.{queue}.latency:{r.random() * 3:.3f}|g")
    return lines


def mastodon_lines(count, seed=4242):
    r = random.Random(seed)
    lines = []
    while len(lines) < count:
        lines.extend(request(r) if r.random() < 0.5 else job(r))
    return lines[:count]


def series_lines(count=10_000):
    """Exactly `count` distinct series in Mastodon's shape, through the built-in mapping: request
    counters by controller, action, format and status (60 %), request-duration histograms by
    controller, action and format (20 %), and per-queue gauges (20 %)."""
    lines = []
    counters, histograms = count * 6 // 10, count * 2 // 10
    gauges = count - counters - histograms
    statuses = [200, 302, 404, 422, 500]
    for index in range(counters):
        controller, rest = divmod(index, 4 * len(statuses))
        action, status = divmod(rest, len(statuses))
        lines.append(f"{NS}.web.Api.V1.C{controller}Controller.a{action}.json.status.{statuses[status]}:1|c")
    for index in range(histograms):
        controller, action = divmod(index, 4)
        lines.append(f"{NS}.web.Api.V1.C{controller}Controller.a{action}.html.total_duration:{20 + index % 300}|ms")
    for index in range(gauges):
        lines.append(f"{NS}.sidekiq.queues.q{index}.enqueued:{index % 50}|g")
    return lines


if __name__ == "__main__":
    # statsd_corpus.py HOST PORT LINES_PER_SECOND: sends Mastodon-shaped traffic until stopped
    # (scripts/demo.sh uses it to stand in for a Mastodon ≤ 4.2 with STATSD_ADDR set).
    import socket
    import sys
    import time

    host, port, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    lines = mastodon_lines(100_000)
    index = 0
    while True:
        for _ in range(max(1, int(rate / 10))):
            sock.sendto(lines[index % len(lines)].encode(), (host, port))
            index += 1
        time.sleep(0.1)
