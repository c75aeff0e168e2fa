import MastiffCore
import MastiffPolicies
import MastiffPromQL

/// A receiver's message title and text: its `title`/`text` Go templates when configured (checked
/// when the configuration loads), else the channel's default (`NotificationText`).
public struct MessageFormat: Sendable {
    let titleTemplate: AlertTemplate?
    let textTemplate: AlertTemplate?
    let host: String

    public init(title: String? = nil, text: String? = nil, host: String) {
        titleTemplate = title.flatMap { try? AlertTemplate($0) }
        textTemplate = text.flatMap { try? AlertTemplate($0) }
        self.host = host
    }

    public func title(_ notification: Notification) -> String {
        titleTemplate?.expand(context(notification)) ?? NotificationText.title(notification)
    }

    public func body(_ notification: Notification) -> String {
        textTemplate?.expand(context(notification)) ?? NotificationText.body(notification, host: host)
    }

    func context(_ notification: Notification) -> TemplateContext {
        let common = notification.alerts.first?.labels.filter { label in notification.alerts.allSatisfy { $0.labels.contains(label) } } ?? []
        var context = TemplateContext(labels: common, value: notification.alerts.first?.value ?? .nan) { (_: Expr) throws(EvaluationError) -> [VectorSample] in
            throw EvaluationError("query is not available in notification templates")
        }
        context.notification = TemplateNotification(
            status: notification.status.rawValue, receiver: notification.receiver, groupLabels: notification.groupLabels,
            alerts: notification.alerts.map {
                TemplateNotification.Alert(labels: $0.labels, annotations: $0.annotations, value: $0.value, status: $0.status.rawValue, startsAt: $0.startsAt)
            })
        return context
    }
}
