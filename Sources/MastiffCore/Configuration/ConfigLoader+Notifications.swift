/// alerts.receivers, routes, grouping, heartbeat and maintenance windows.
extension ConfigLoader {
    static func parseNotifications(_ map: ConfigMapping, into settings: inout AlertSettings,
                                   environment: (String) -> String? = FileSystemAccess.environment) throws(ConfigError) {
        if let receivers = map["receivers"] {
            for item in try receivers.list() {
                let receiver = try parseReceiver(item, environment: environment)
                guard !settings.receivers.contains(where: { $0.name == receiver.name }) else {
                    throw item.error("duplicate receiver name '\(receiver.name)'")
                }
                settings.receivers.append(receiver)
            }
        }
        let names = Set(settings.receivers.map(\.name))
        func receiverList(_ node: ConfigNode) throws(ConfigError) -> [String] {
            var result: [String] = []
            for item in try node.list() {
                let name = try item.string()
                guard names.contains(name) else {
                    throw item.error("no receiver is named '\(name)' (receivers: \(names.sorted().joined(separator: ", ")))")
                }
                result.append(name)
            }
            return result
        }
        if let routes = map["routes"] {
            for item in try routes.list() {
                let route = try item.mapping(allowing: ConfigKeys.route)
                var matchers: [RouteMatcher] = []
                for (key, regex) in [("match", false), ("match_re", true)] {
                    guard let node = route[key] else { continue }
                    guard case .mapping(let entries) = node.node.content else { throw node.error("expected label: value pairs") }
                    for entry in entries {
                        guard case .scalar(let name, _) = entry.key.content, case .scalar(let value, _) = entry.value.content else {
                            throw node.error("expected label: value pairs")
                        }
                        if regex, let problem = CapturingRegex.problem("^(?:" + value + ")$") {
                            throw ConfigError(file: node.file, mark: entry.value.mark, keyPath: "\(node.keyPath).\(name)", message: "invalid regular expression: \(problem)")
                        }
                        matchers.append(RouteMatcher(name: name, value: value, regex: regex))
                    }
                }
                var spec = RouteSpec(matchers: matchers, receivers: try receiverList(try route.required("receivers")))
                if let node = route["continue"] { spec.continue = try node.bool() }
                settings.routes.append(spec)
            }
        }
        if let node = map["default_receivers"] { settings.defaultReceivers = try receiverList(node) }
        if let node = map["group_by"] { settings.groupBy = try node.stringList() }
        if let node = map["group_wait"] { settings.groupWait = try node.duration() }
        if let node = map["group_interval"] { settings.groupInterval = try node.duration(atLeast: .seconds(1)) }
        if let node = map["repeat_interval"] { settings.repeatInterval = try node.duration(atLeast: .seconds(1)) }
        if let node = map["heartbeat"] {
            let heartbeat = try node.mapping(allowing: ConfigKeys.heartbeat)
            let urlNode = try heartbeat.required("url")
            let url = try urlNode.secret(environment: environment)
            guard URLText.isHTTP(url.reveal()) else { throw urlNode.error("not an http:// or https:// URL (the value is not shown: it may hold a token)") }
            var spec = HeartbeatSettings(url: url)
            if let interval = heartbeat["interval"] { spec.interval = try interval.duration(atLeast: .seconds(5)) }
            settings.heartbeat = spec
        }
        if let node = map["maintenance_windows"] {
            for item in try node.list() {
                let window = try item.mapping(allowing: ConfigKeys.maintenanceWindow)
                let cronNode = try window.required("cron")
                let cron = try cronNode.string()
                if let problem = CronSchedule.validate(cron) { throw cronNode.error(problem) }
                settings.maintenanceWindows.append(MaintenanceWindowSpec(cron: cron, duration: try window.required("duration").duration(atLeast: .seconds(60)),
                                                                         reason: try window["reason"]?.string() ?? "scheduled maintenance"))
            }
        }
    }

    static func parseReceiver(_ node: ConfigNode, environment: (String) -> String?) throws(ConfigError) -> ReceiverSpec {
        let map = try node.mapping(allowing: ConfigKeys.receiver)
        let name = try identifierName(map, "receiver", maxBytes: 64)
        let kinds = ConfigKeys.receiverKinds.keys.filter { map[$0] != nil }.sorted()
        guard kinds.count == 1, let kindName = kinds.first, let kindNode = map[kindName] else {
            throw node.error("a receiver needs exactly one of \(ConfigKeys.receiverKinds.keys.sorted().joined(separator: ", "))\(kinds.isEmpty ? "" : " (found \(kinds.joined(separator: ", ")))")")
        }
        let kindMap = try kindNode.mapping(allowing: ConfigKeys.receiverKinds[kindName]!)
        func url(_ key: String) throws(ConfigError) -> String {
            let urlNode = try kindMap.required(key)
            let text = try urlNode.httpURL()
            return text.hasSuffix("/") ? String(text.dropLast()) : text
        }
        func secretURL(_ key: String) throws(ConfigError) -> Secret {
            let urlNode = try kindMap.required(key)
            let secret = try urlNode.secret(environment: environment)
            guard URLText.isHTTP(secret.reveal()) else {
                throw urlNode.error("not an http:// or https:// URL (the value is not shown: it may hold a token)")
            }
            return secret
        }
        func secret(_ key: String) throws(ConfigError) -> Secret { try kindMap.required(key).secret(environment: environment) }
        let kind: ReceiverSpec.Kind
        switch kindName {
        case "webhook":
            kind = .webhook(url: try secretURL("url"), bearerToken: try kindMap["bearer_token"]?.secret(environment: environment))
        case "alertmanager":
            let urlsNode = try kindMap.required("urls")
            var urls: [String] = []
            for item in try urlsNode.list() {
                let text = try item.httpURL()
                urls.append(text.hasSuffix("/") ? String(text.dropLast()) : text)
            }
            guard !urls.isEmpty else { throw urlsNode.error("at least one Alertmanager URL") }
            kind = .alertmanager(urls: urls)
        case "email":
            let toNode = try kindMap.required("to")
            let to = try toNode.stringList()
            guard !to.isEmpty, to.allSatisfy({ $0.contains("@") && !$0.contains(" ") && !$0.contains("\r") && !$0.contains("\n") }) else {
                throw toNode.error("expected one or more e-mail addresses")
            }
            let fromNode = try kindMap.required("from")
            let from = try fromNode.string()
            guard from.contains("@"), !from.contains("\r"), !from.contains("\n") else { throw fromNode.error("'\(from)' is not an e-mail address") }
            let hostNode = try kindMap.required("smarthost")
            let smarthost = try hostNode.string()
            guard let colon = smarthost.lastIndex(of: ":"), Int(smarthost[smarthost.index(after: colon)...]) != nil else {
                throw hostNode.error("expected host:port (e.g. 127.0.0.1:587)")
            }
            var email = EmailSettings(to: to, from: from, smarthost: smarthost)
            email.username = try kindMap["username"]?.string()
            email.password = try kindMap["password"]?.secret(environment: environment)
            if let securityNode = kindMap["security"] {
                let text = try securityNode.string()
                guard let security = EmailSettings.Security(rawValue: text) else { throw securityNode.error("unknown security '\(text)' (starttls, tls, none)") }
                email.security = security
            }
            kind = .email(email)
        case "slack": kind = .slack(webhookURL: try secretURL("webhook_url"))
        case "discord": kind = .discord(webhookURL: try secretURL("webhook_url"))
        case "matrix":
            let room = try kindMap.required("room_id").string()
            guard room.hasPrefix("!") || room.hasPrefix("#") else { throw try kindMap.required("room_id").error("a room ID starts with ! (or an alias with #)") }
            kind = .matrix(homeserver: try url("homeserver"), roomID: room, accessToken: try secret("access_token"))
        case "ntfy":
            var tags: [String] = []
            if let tagsNode = kindMap["tags"] { tags = try tagsNode.stringList() }
            var priority: String?
            if let priorityNode = kindMap["priority"] {
                let text = try priorityNode.string()
                guard ["1", "2", "3", "4", "5", "min", "low", "default", "high", "max", "urgent"].contains(text) else {
                    throw priorityNode.error("unknown priority '\(text)' (1–5, min, low, default, high, max, urgent)")
                }
                priority = text
            }
            kind = .ntfy(topicURL: try url("url"), token: try kindMap["token"]?.secret(environment: environment), priority: priority, tags: tags)
        case "telegram":
            let apiURL: String
            if kindMap["api_url"] != nil { apiURL = try url("api_url") } else { apiURL = "https://api.telegram.org" }
            kind = .telegram(botToken: try secret("bot_token"), chatID: try kindMap.required("chat_id").string(), apiURL: apiURL)
        case "gotify":
            kind = .gotify(url: try url("url"), token: try secret("token"), priority: try kindMap["priority"]?.int(in: 0...10) ?? 8)
        default:
            let toNode = try kindMap.required("to")
            let to = try toNode.string()
            guard to.hasPrefix("@"), to.count > 1, !to.contains(" ") else { throw toNode.error("expected the admin's handle, e.g. @admin or @admin@example.social") }
            kind = .mastodon(instanceURL: try url("instance_url"), accessToken: try secret("access_token"), to: to)
        }
        var spec = ReceiverSpec(name: name, kind: kind)
        if let node = map["send_resolved"] { spec.sendResolved = try node.bool() }
        if let node = map["max_per_hour"] { spec.maxPerHour = try node.int(in: 0...100_000) }
        if let node = map["give_up_after"] { spec.giveUpAfter = try node.duration(atLeast: .seconds(60)) }
        if let node = map["timeout"] { spec.timeout = try node.duration(atLeast: .seconds(1)) }
        if let node = map["ca_file"] {
            let path = try node.string()
            guard path.hasPrefix("/") else { throw node.error("must be an absolute path") }
            spec.caFile = path
        }
        for key in ["title", "text"] {
            guard let node = map[key] else { continue }
            let template = try node.string()
            if key == "title" { spec.title = template } else { spec.text = template }
            spec.templateLocations[key] = "\(node.file):\(node.mark): \(node.keyPath)"
        }
        return spec
    }
}
