// recvmmsg(2) for the statsd listener. glibc declares it only under _GNU_SOURCE, which Swift's
// Glibc module is not built with, so the batch header is declared here with the kernel's layout
// and the call goes through syscall(2).
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct mastiff_mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
};

// Return after the first datagram instead of waiting to fill the batch.
#define MASTIFF_MSG_WAITFORONE 0x10000

static inline int mastiff_recvmmsg(int fd, struct mastiff_mmsghdr *vector, unsigned int length, int flags) {
    return (int)syscall(SYS_recvmmsg, fd, vector, length, flags, (struct timespec *)0);
}

// SO_PEERCRED's answer (struct ucred), likewise hidden behind _GNU_SOURCE: who is at the other
// end of a Unix socket, for the control socket's permission check.
struct mastiff_peer_credentials {
    int pid;
    unsigned int uid;
    unsigned int gid;
};

static inline int mastiff_peer_credentials(int fd, struct mastiff_peer_credentials *credentials) {
    socklen_t length = sizeof(*credentials);
    return getsockopt(fd, SOL_SOCKET, 17 /* SO_PEERCRED */, credentials, &length);
}

// pidfd_open(2) and pidfd_send_signal(2) (Linux 5.3+), through syscall(2) as glibc 2.36 has no
// wrappers Swift can see: a signal goes to the process the pidfd was opened on, never to a
// later process that reused its pid.
static inline int mastiff_pidfd_open(int pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

static inline int mastiff_pidfd_send_signal(int fd, int signal) {
    return (int)syscall(SYS_pidfd_send_signal, fd, signal, (void *)0, 0);
}

// posix_spawn_file_actions_addclosefrom_np (glibc 2.34), likewise declared only under
// _GNU_SOURCE: a child closes every descriptor from 3 up, so it never inherits one of mastiff's
// that lacks close-on-exec (SwiftNIO's listening socket, an epoll instance, whatever mastiff was
// itself started with). A job or pg_dump left running after mastiff died would otherwise hold
// the /metrics port, and the agent could not start again.
#include <spawn.h>
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);

static inline int mastiff_spawn_close_from(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}
