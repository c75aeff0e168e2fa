import MastiffClients
import MastiffCore
import MastiffPolicies

/// A room message through Matrix's client-server API: PUT
/// /_matrix/client/v3/rooms/{roomId}/send/m.room.message/{txnId} with a bearer access token
/// (spec.matrix.org/v1.9/client-server-api/#put_matrixclientv3roomsroomidsendeventtypetxnid).
/// The transaction ID is the notification's, so a retry after a lost answer is not posted twice.
public struct MatrixReceiver: HTTPChannel {
    public let name: String
    let homeserver: String
    let roomID: String
    let accessToken: Secret
    let caFile: String?
    public let timeout: Duration
    let format: MessageFormat

    public init(name: String, homeserver: String, roomID: String, accessToken: Secret, caFile: String?, timeout: Duration, format: MessageFormat) {
        self.name = name
        self.homeserver = homeserver
        self.roomID = roomID
        self.accessToken = accessToken
        self.caFile = caFile
        self.timeout = timeout
        self.format = format
    }

    public func request(for notification: Notification) -> HTTPRequest {
        let url = "\(homeserver)/_matrix/client/v3/rooms/\(roomID.pathEscaped)/send/m.room.message/mastiff-\(notification.id)-\(Int(notification.createdAt))"
        let body = format.title(notification) + "\n" + format.body(notification)
        return ReceiverHTTP.jsonRequest(.object(["msgtype": .string("m.text"), "body": .string(body)]), to: url, method: "PUT",
                                       headers: ["Authorization: Bearer \(accessToken.reveal())"], caFile: caFile)
    }
}
