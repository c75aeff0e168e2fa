/// Where notifications go (alerts.receivers), how alerts are routed to them (alerts.routes) and
/// grouped, maintenance windows and the heartbeat. docs/notifications.md documents each.
public struct ReceiverSpec: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Alertmanager's webhook JSON (version 4) POSTed to `url`.
        case webhook(url: Secret, bearerToken: Secret?)
        /// POST /api/v2/alerts to each Alertmanager, re-sent while firing.
        case alertmanager(urls: [String])
        case email(EmailSettings)
        case slack(webhookURL: Secret)
        case discord(webhookURL: Secret)
        case matrix(homeserver: String, roomID: String, accessToken: Secret)
        case ntfy(topicURL: String, token: Secret?, priority: String?, tags: [String])
        case telegram(botToken: Secret, chatID: String, apiURL: String)
        case gotify(url: String, token: Secret, priority: Int)
        /// A direct message from a bot account, mentioning `to` (`@admin` or `@admin@host`).
        case mastodon(instanceURL: String, accessToken: Secret, to: String)

        public var typeName: String {
            switch self {
            case .webhook: return "webhook"
            case .alertmanager: return "alertmanager"
            case .email: return "email"
            case .slack: return "slack"
            case .discord: return "discord"
            case .matrix: return "matrix"
            case .ntfy: return "ntfy"
            case .telegram: return "telegram"
            case .gotify: return "gotify"
            case .mastodon: return "mastodon"
            }
        }
    }

    public var name: String
    public var kind: Kind
    /// Whether resolved notices are sent (with the value at resolution).
    public var sendResolved = true
    /// Most notifications per hour; 0: no limit. Over it, notifications wait (they are not dropped).
    public var maxPerHour = 0
    /// A notification still failing after this long is given up (logged, counted).
    public var giveUpAfter: Duration = .seconds(86400)
    public var timeout: Duration = .seconds(10)
    /// A CA bundle for a server the system does not trust.
    public var caFile: String?
    /// Go templates (the rule engine's) for the message title and text; nil: the channel's
    /// default. They see `.Status`, `.Alerts` (each with `.Labels`, `.Annotations`, `.Value`,
    /// `.Status`, `.StartsAt`), `.CommonLabels`, `.GroupLabels`, `.Receiver`, `$labels` (the
    /// common labels) and `$value` (the first alert's).
    public var title: String?
    public var text: String?
    /// Where `title` and `text` are written, for template errors found when the rules load.
    public var templateLocations: [String: String] = [:]

    public init(name: String, kind: Kind) {
        self.name = name
        self.kind = kind
    }
}

public struct EmailSettings: Sendable, Equatable {
    public enum Security: String, Sendable, Equatable { case starttls, tls, none }
    public var to: [String]
    public var from: String
    /// host:port of the SMTP server.
    public var smarthost: String
    public var username: String?
    public var password: Secret?
    public var security: Security = .starttls

    public init(to: [String], from: String, smarthost: String) {
        self.to = to
        self.from = from
        self.smarthost = smarthost
    }
}

/// One entry of alerts.routes: alerts whose labels match go to `receivers`; the first match
/// wins unless `continue` is set.
public struct RouteSpec: Sendable, Equatable {
    /// Equality matchers (`match:`) and regex matchers (`match_re:`), as name, op, value.
    public var matchers: [RouteMatcher]
    public var receivers: [String]
    public var `continue` = false

    public init(matchers: [RouteMatcher], receivers: [String]) {
        self.matchers = matchers
        self.receivers = receivers
    }
}

public struct RouteMatcher: Sendable, Equatable {
    public var name: String
    public var value: String
    public var regex: Bool
    public init(name: String, value: String, regex: Bool) {
        self.name = name
        self.value = value
        self.regex = regex
    }
}

/// A recurring maintenance window: from each time `cron` matches, for `duration`.
public struct MaintenanceWindowSpec: Sendable, Equatable {
    public var cron: String
    public var duration: Duration
    public var reason: String
    public init(cron: String, duration: Duration, reason: String) {
        self.cron = cron
        self.duration = duration
        self.reason = reason
    }
}

public struct HeartbeatSettings: Sendable, Equatable {
    /// Pinged (GET) every `interval` while the sampler is healthy; it may carry a token.
    public var url: Secret
    public var interval: Duration = .seconds(60)
    public init(url: Secret) { self.url = url }
}
