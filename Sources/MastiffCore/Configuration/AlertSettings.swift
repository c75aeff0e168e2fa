/// The alert rules mastiff evaluates itself (docs/alerting.md).
public struct AlertSettings: Sendable, Equatable {
    /// How often rule groups are evaluated; nil: every sample (`sampling.interval`). A group's
    /// own `interval` in its rule file takes precedence.
    public var interval: Duration?
    /// Whether alerts/mastiff.rules.yml (compiled in) is loaded.
    public var builtin = true
    /// Globs of further Prometheus rule files; relative ones are made absolute against the
    /// configuration file's directory when it is read.
    public var ruleFiles: [String] = []
    /// Alerting rules not to evaluate, by alert name.
    public var disable: [String] = []
    /// `$externalLabels` in templates.
    public var externalLabels: [Label] = []
    /// The most series one selector of the rules keeps (so the most alerts one rule can have);
    /// more are not seen by the rules, and said so in the log and in
    /// `mastiff_rule_series_dropped_total`. Memory stays bounded by sampling.history_limit.
    public var maxSeries = 1000
    /// Where each `disable` entry is written, for the error when no rule has that name.
    public var disableLocations: [String: String] = [:]
    /// Where notifications go; none: the log.
    public var receivers: [ReceiverSpec] = []
    public var routes: [RouteSpec] = []
    /// Receivers of alerts no route matches; nil: every receiver.
    public var defaultReceivers: [String]?
    public var groupBy = ["alertname"]
    public var groupWait: Duration = .seconds(30)
    public var groupInterval: Duration = .seconds(300)
    public var repeatInterval: Duration = .seconds(14400)
    public var heartbeat: HeartbeatSettings?
    public var maintenanceWindows: [MaintenanceWindowSpec] = []
    public init() {}
}

/// Where notifications go (alerts.receivers), how alerts are routed to them (alerts.routes) and
/// grouped, maintenance windows and the heartbeat. docs/notifications.md documents each.
public struct ReceiverSpec: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Alertmanager's webhook JSON (version 4) POSTed to `url`.
        case webhook(Webhook)
        /// POST /api/v2/alerts to each Alertmanager, re-sent while firing.
        case alertmanager(Alertmanager)
        case email(EmailSettings)
        case slack(ChatWebhook)
        case discord(ChatWebhook)
        case matrix(Matrix)
        case ntfy(Ntfy)
        case telegram(Telegram)
        case gotify(Gotify)
        /// A direct message from a bot account, mentioning `to` (`@admin` or `@admin@host`).
        case mastodon(MastodonMessage)

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

    public struct Webhook: Sendable, Equatable {
        public var url: Secret
        public var bearerToken: Secret?
        public init(url: Secret, bearerToken: Secret? = nil) {
            self.url = url
            self.bearerToken = bearerToken
        }
    }

    public struct Alertmanager: Sendable, Equatable {
        /// Every Alertmanager of a cluster: each gets each alert (Alertmanager deduplicates).
        public var urls: [String]
        public init(urls: [String]) { self.urls = urls }
    }

    /// Slack's and Discord's incoming webhooks: the URL is the credential.
    public struct ChatWebhook: Sendable, Equatable {
        public var webhookURL: Secret
        public init(webhookURL: Secret) { self.webhookURL = webhookURL }
    }

    public struct Matrix: Sendable, Equatable {
        public var homeserver = ""
        public var roomID = ""
        public var accessToken = Secret("")
        public init() {}
    }

    public struct Ntfy: Sendable, Equatable {
        public var topicURL = ""
        public var token: Secret?
        public var priority: String?
        public var tags: [String] = []
        public init() {}
    }

    public struct Telegram: Sendable, Equatable {
        public var botToken = Secret("")
        public var chatID = ""
        public var apiURL = "https://api.telegram.org"
        public init() {}
    }

    public struct Gotify: Sendable, Equatable {
        public var url = ""
        public var token = Secret("")
        public var priority = 8
        public init() {}
    }

    public struct MastodonMessage: Sendable, Equatable {
        public var instanceURL = ""
        public var accessToken = Secret("")
        public var to = ""
        public init() {}
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
    public enum Security: String, Sendable, Equatable, CaseIterable { case starttls, tls, none }
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

extension AlertSettings {
    /// `alerts:`: rules, receivers, routes, grouping, heartbeat and maintenance windows.
    public static let section = ConfigSection<AlertSettings>([
        .key("interval") { settings, node, _ throws(ConfigError) in settings.interval = try node.duration(atLeast: .seconds(1)) },
        .key("builtin") { settings, node, _ throws(ConfigError) in settings.builtin = try node.bool() },
        .key("rule_files") { settings, node, _ throws(ConfigError) in
            for item in try node.list() {
                let pattern = try item.string()
                guard !pattern.isEmpty else { throw item.error("a rule file pattern must not be empty") }
                settings.ruleFiles.append(pattern)
            }
        },
        .key("disable") { settings, node, _ throws(ConfigError) in
            for item in try node.list() {
                let name = try item.string()
                settings.disable.append(name)
                settings.disableLocations[name] = "\(item.file):\(item.mark): \(item.keyPath)"
            }
        },
        .key("external_labels") { settings, node, _ throws(ConfigError) in
            for (keyNode, _, name, value) in try node.stringPairs("a mapping of label names to string values") {
                guard MetricName.isValidLabelName(name) else { throw keyNode.error("'\(name)' is not a label name") }
                settings.externalLabels.append(Label(name, value))
            }
            settings.externalLabels.sort { $0.name < $1.name }
        },
        .key("max_series") { settings, node, _ throws(ConfigError) in settings.maxSeries = try node.int(in: 1...1_000_000) },
        .key("receivers", nested: ReceiverSpec.section.schema.listItems) { settings, node, context throws(ConfigError) in
            settings.receivers = try node.items(ReceiverSpec.section, initial: ReceiverSpec(name: "", kind: .alertmanager(.init(urls: []))), context: context,
                                                uniqueBy: \.name, what: "receiver name")
        },
        .key("routes", nested: RouteSpec.section.schema.listItems) { settings, node, context throws(ConfigError) in
            var routeContext = context
            routeContext.receiverNames = settings.receivers.map(\.name)
            for item in try node.list() {
                settings.routes.append(try RouteSpec.section.value(item, initial: RouteSpec(matchers: [], receivers: []), context: routeContext))
            }
        },
        .key("default_receivers") { settings, node, _ throws(ConfigError) in settings.defaultReceivers = try node.receiverNames(settings.receivers.map(\.name)) },
        .key("group_by") { settings, node, _ throws(ConfigError) in settings.groupBy = try node.stringList() },
        .key("group_wait") { settings, node, _ throws(ConfigError) in settings.groupWait = try node.duration() },
        .key("group_interval") { settings, node, _ throws(ConfigError) in settings.groupInterval = try node.duration(atLeast: .seconds(1)) },
        .key("repeat_interval") { settings, node, _ throws(ConfigError) in settings.repeatInterval = try node.duration(atLeast: .seconds(1)) },
        .key("heartbeat", nested: HeartbeatSettings.section.schema) { settings, node, context throws(ConfigError) in
            settings.heartbeat = try HeartbeatSettings.section.value(node, initial: HeartbeatSettings(url: Secret("")), context: context)
        },
        .key("maintenance_windows", nested: MaintenanceWindowSpec.section.schema.listItems) { settings, node, context throws(ConfigError) in
            for item in try node.list() {
                let initial = MaintenanceWindowSpec(cron: "", duration: .zero, reason: "scheduled maintenance")
                settings.maintenanceWindows.append(try MaintenanceWindowSpec.section.value(item, initial: initial, context: context))
            }
        },
    ])
}

extension ReceiverSpec {
    /// The channels, each a key of its own under a receiver: a receiver names exactly one.
    static let kinds: [ConfigKey<ReceiverSpec>] = [
        kind("webhook", Webhook.section, initial: Webhook(url: Secret("")), ReceiverSpec.Kind.webhook),
        kind("alertmanager", Alertmanager.section, initial: Alertmanager(urls: []), ReceiverSpec.Kind.alertmanager),
        kind("email", EmailSettings.section, initial: EmailSettings(to: [], from: "", smarthost: ""), ReceiverSpec.Kind.email),
        kind("slack", ChatWebhook.section, initial: ChatWebhook(webhookURL: Secret("")), ReceiverSpec.Kind.slack),
        kind("discord", ChatWebhook.section, initial: ChatWebhook(webhookURL: Secret("")), ReceiverSpec.Kind.discord),
        kind("matrix", Matrix.section, initial: Matrix(), ReceiverSpec.Kind.matrix),
        kind("ntfy", Ntfy.section, initial: Ntfy(), ReceiverSpec.Kind.ntfy),
        kind("telegram", Telegram.section, initial: Telegram(), ReceiverSpec.Kind.telegram),
        kind("gotify", Gotify.section, initial: Gotify(), ReceiverSpec.Kind.gotify),
        kind("mastodon", MastodonMessage.section, initial: MastodonMessage(), ReceiverSpec.Kind.mastodon),
    ]

    private static func kind<Channel: Sendable>(_ name: String, _ section: ConfigSection<Channel>, initial: Channel,
                                                _ make: @escaping @Sendable (Channel) -> Kind) -> ConfigKey<ReceiverSpec> {
        .key(name, nested: section.schema) { spec, node, context throws(ConfigError) in
            spec.kind = make(try section.value(node, initial: initial, context: context))
        }
    }

    static let section = ConfigSection<ReceiverSpec>([
        .key("name", required: true) { spec, node, _ throws(ConfigError) in spec.name = try node.identifierName("receiver", maxBytes: 64) },
    ] + kinds + [
        .key("send_resolved") { spec, node, _ throws(ConfigError) in spec.sendResolved = try node.bool() },
        .key("max_per_hour") { spec, node, _ throws(ConfigError) in spec.maxPerHour = try node.int(in: 0...100_000) },
        .key("give_up_after") { spec, node, _ throws(ConfigError) in spec.giveUpAfter = try node.duration(atLeast: .seconds(60)) },
        .key("timeout") { spec, node, _ throws(ConfigError) in spec.timeout = try node.duration(atLeast: .seconds(1)) },
        .key("ca_file") { spec, node, _ throws(ConfigError) in spec.caFile = try node.absolutePath() },
        .key("title") { spec, node, _ throws(ConfigError) in
            spec.title = try node.string()
            spec.templateLocations["title"] = "\(node.file):\(node.mark): \(node.keyPath)"
        },
        .key("text") { spec, node, _ throws(ConfigError) in
            spec.text = try node.string()
            spec.templateLocations["text"] = "\(node.file):\(node.mark): \(node.keyPath)"
        },
    ], before: { _, map, _ throws(ConfigError) in
        let names = kinds.map(\.name)
        let found = names.filter { map[$0] != nil }
        guard found.count == 1 else {
            throw map.owner.error("a receiver needs exactly one of \(names.sorted().joined(separator: ", "))\(found.isEmpty ? "" : " (found \(found.sorted().joined(separator: ", ")))")")
        }
    })
}

extension ReceiverSpec.Webhook {
    static let section = ConfigSection<Self>([
        .key("url", required: true) { hook, node, context throws(ConfigError) in hook.url = try node.secretHTTPURL(environment: context.environment) },
        .key("bearer_token") { hook, node, context throws(ConfigError) in hook.bearerToken = try node.secret(environment: context.environment) },
    ])
}

extension ReceiverSpec.Alertmanager {
    static let section = ConfigSection<Self>([
        .key("urls", required: true) { alertmanager, node, _ throws(ConfigError) in
            for item in try node.list() { alertmanager.urls.append(try item.baseURL()) }
            guard !alertmanager.urls.isEmpty else { throw node.error("at least one Alertmanager URL") }
        },
    ])
}

extension EmailSettings {
    static let section = ConfigSection<Self>([
        .key("to", required: true) { email, node, _ throws(ConfigError) in
            email.to = try node.stringList()
            guard !email.to.isEmpty, email.to.allSatisfy({ $0.contains("@") && !$0.contains(" ") && !$0.contains("\r") && !$0.contains("\n") }) else {
                throw node.error("expected one or more e-mail addresses")
            }
        },
        .key("from", required: true) { email, node, _ throws(ConfigError) in
            email.from = try node.string()
            guard email.from.contains("@"), !email.from.contains("\r"), !email.from.contains("\n") else { throw node.error("'\(email.from)' is not an e-mail address") }
        },
        .key("smarthost", required: true) { email, node, _ throws(ConfigError) in
            email.smarthost = try node.string()
            guard let colon = email.smarthost.lastIndex(of: ":"), Int(email.smarthost[email.smarthost.index(after: colon)...]) != nil else {
                throw node.error("expected host:port (e.g. 127.0.0.1:587)")
            }
        },
        .key("username") { email, node, _ throws(ConfigError) in email.username = try node.string() },
        .key("password") { email, node, context throws(ConfigError) in email.password = try node.secret(environment: context.environment) },
        .key("security") { email, node, _ throws(ConfigError) in
            email.security = Security(rawValue: try node.choice(Security.allCases.map(\.rawValue), what: "security"))!
        },
    ])
}

extension ReceiverSpec.ChatWebhook {
    static let section = ConfigSection<Self>([
        .key("webhook_url", required: true) { hook, node, context throws(ConfigError) in hook.webhookURL = try node.secretHTTPURL(environment: context.environment) },
    ])
}

extension ReceiverSpec.Matrix {
    static let section = ConfigSection<Self>([
        .key("homeserver", required: true) { matrix, node, _ throws(ConfigError) in matrix.homeserver = try node.baseURL() },
        .key("room_id", required: true) { matrix, node, _ throws(ConfigError) in
            matrix.roomID = try node.string()
            guard matrix.roomID.hasPrefix("!") || matrix.roomID.hasPrefix("#") else { throw node.error("a room ID starts with ! (or an alias with #)") }
        },
        .key("access_token", required: true) { matrix, node, context throws(ConfigError) in matrix.accessToken = try node.secret(environment: context.environment) },
    ])
}

extension ReceiverSpec.Ntfy {
    static let section = ConfigSection<Self>([
        .key("url", required: true) { ntfy, node, _ throws(ConfigError) in ntfy.topicURL = try node.baseURL() },
        .key("token") { ntfy, node, context throws(ConfigError) in ntfy.token = try node.secret(environment: context.environment) },
        .key("priority") { ntfy, node, _ throws(ConfigError) in
            let text = try node.string()
            guard ["1", "2", "3", "4", "5", "min", "low", "default", "high", "max", "urgent"].contains(text) else {
                throw node.error("unknown priority '\(text)' (1–5, min, low, default, high, max, urgent)")
            }
            ntfy.priority = text
        },
        .key("tags") { ntfy, node, _ throws(ConfigError) in ntfy.tags = try node.stringList() },
    ])
}

extension ReceiverSpec.Telegram {
    static let section = ConfigSection<Self>([
        .key("bot_token", required: true) { telegram, node, context throws(ConfigError) in telegram.botToken = try node.secret(environment: context.environment) },
        .key("chat_id", required: true) { telegram, node, _ throws(ConfigError) in telegram.chatID = try node.string() },
        .key("api_url") { telegram, node, _ throws(ConfigError) in telegram.apiURL = try node.baseURL() },
    ])
}

extension ReceiverSpec.Gotify {
    static let section = ConfigSection<Self>([
        .key("url", required: true) { gotify, node, _ throws(ConfigError) in gotify.url = try node.baseURL() },
        .key("token", required: true) { gotify, node, context throws(ConfigError) in gotify.token = try node.secret(environment: context.environment) },
        .key("priority") { gotify, node, _ throws(ConfigError) in gotify.priority = try node.int(in: 0...10) },
    ])
}

extension ReceiverSpec.MastodonMessage {
    static let section = ConfigSection<Self>([
        .key("instance_url", required: true) { message, node, _ throws(ConfigError) in message.instanceURL = try node.baseURL() },
        .key("access_token", required: true) { message, node, context throws(ConfigError) in message.accessToken = try node.secret(environment: context.environment) },
        .key("to", required: true) { message, node, _ throws(ConfigError) in
            message.to = try node.string()
            guard message.to.hasPrefix("@"), message.to.count > 1, !message.to.contains(" ") else {
                throw node.error("expected the admin's handle, e.g. @admin or @admin@example.social")
            }
        },
    ])
}

extension RouteSpec {
    static let section = ConfigSection<RouteSpec>([
        .key("match") { route, node, _ throws(ConfigError) in
            for (_, _, name, value) in try node.stringPairs("label: value pairs") { route.matchers.append(RouteMatcher(name: name, value: value, regex: false)) }
        },
        .key("match_re") { route, node, _ throws(ConfigError) in
            for (_, valueNode, name, value) in try node.stringPairs("label: value pairs") {
                if let problem = CapturingRegex.problem("^(?:" + value + ")$") { throw valueNode.error("invalid regular expression: \(problem)") }
                route.matchers.append(RouteMatcher(name: name, value: value, regex: true))
            }
        },
        .key("receivers", required: true) { route, node, context throws(ConfigError) in route.receivers = try node.receiverNames(context.receiverNames) },
        .key("continue") { route, node, _ throws(ConfigError) in route.continue = try node.bool() },
    ])
}

extension HeartbeatSettings {
    static let section = ConfigSection<HeartbeatSettings>([
        .key("url", required: true) { heartbeat, node, context throws(ConfigError) in heartbeat.url = try node.secretHTTPURL(environment: context.environment) },
        .key("interval") { heartbeat, node, _ throws(ConfigError) in heartbeat.interval = try node.duration(atLeast: .seconds(5)) },
    ])
}

extension MaintenanceWindowSpec {
    static let section = ConfigSection<MaintenanceWindowSpec>([
        .key("cron", required: true) { window, node, _ throws(ConfigError) in window.cron = try node.cron() },
        .key("duration", required: true) { window, node, _ throws(ConfigError) in window.duration = try node.duration(atLeast: .seconds(60)) },
        .key("reason") { window, node, _ throws(ConfigError) in window.reason = try node.string() },
    ])
}

private extension ConfigNode {
    /// Names from a list, each of a receiver that exists.
    func receiverNames(_ known: [String]) throws(ConfigError) -> [String] {
        var result: [String] = []
        for item in try list() {
            let name = try item.string()
            guard known.contains(name) else {
                throw item.error("no receiver is named '\(name)' (receivers: \(known.sorted().joined(separator: ", ")))")
            }
            result.append(name)
        }
        return result
    }

    /// An http(s) URL without its trailing slash, for paths to be appended to.
    func baseURL() throws(ConfigError) -> String {
        let text = try httpURL()
        return text.hasSuffix("/") ? String(text.dropLast()) : text
    }

    /// A secret that must be an http(s) URL (a webhook's URL is its credential).
    func secretHTTPURL(environment: (String) -> String?) throws(ConfigError) -> Secret {
        let secret = try self.secret(environment: environment)
        guard URLText.isHTTP(secret.reveal()) else { throw error("not an http:// or https:// URL (the value is not shown: it may hold a token)") }
        return secret
    }
}
