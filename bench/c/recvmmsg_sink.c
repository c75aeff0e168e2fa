// recvmmsg_sink: the baseline receiver — binds a UDP port, takes datagrams with recvmmsg in
// batches of 32 (as mastiff does) with the same 4 MiB receive buffer, and only counts them.
//   recvmmsg_sink PORT IDLE_SECONDS     prints "packets bytes cpu_seconds" after IDLE_SECONDS
//                                       without data
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s PORT IDLE_SECONDS\n", argv[0]); return 2; }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int size = 4 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    struct timeval idle = {atoi(argv[2]), 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0) { perror("bind"); return 1; }
    printf("ready\n");
    fflush(stdout);
    enum { BATCH = 32, SLOT = 65536 };
    static char buffers[BATCH][SLOT];
    struct mmsghdr messages[BATCH];
    struct iovec vectors[BATCH];
    unsigned long long packets = 0, bytes = 0;
    while (1) {
        for (int i = 0; i < BATCH; i++) {
            vectors[i].iov_base = buffers[i];
            vectors[i].iov_len = SLOT;
            messages[i].msg_hdr = (struct msghdr){.msg_iov = &vectors[i], .msg_iovlen = 1};
        }
        int received = recvmmsg(fd, messages, BATCH, MSG_WAITFORONE, 0);
        if (received <= 0) break;
        packets += received;
        for (int i = 0; i < received; i++) bytes += messages[i].msg_len;
    }
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double cpu = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
    printf("%llu %llu %.6f\n", packets, bytes, cpu);
    return 0;
}
