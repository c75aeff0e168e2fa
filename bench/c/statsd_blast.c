// statsd_blast: sends statsd lines over UDP as fast as asked, for the statsd benchmarks.
//   statsd_blast HOST PORT CORPUS RATE SECONDS LINES_PER_PACKET
// RATE is lines per second (0: as fast as possible). Lines come from CORPUS (one per line),
// cycled. Prints "packets lines" sent. sendmmsg batches of 64 keep the sender cheap.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: %s HOST PORT CORPUS RATE SECONDS LINES_PER_PACKET\n", argv[0]);
        return 2;
    }
    double rate = atof(argv[4]), seconds = atof(argv[5]);
    int perPacket = atoi(argv[6]);
    FILE *corpus = fopen(argv[3], "r");
    if (!corpus) { perror(argv[3]); return 1; }
    size_t count = 0, capacity = 1024;
    char **lines = malloc(capacity * sizeof *lines);
    char buffer[4096];
    while (fgets(buffer, sizeof buffer, corpus)) {
        buffer[strcspn(buffer, "\n")] = 0;
        if (!*buffer) continue;
        if (count == capacity) lines = realloc(lines, (capacity *= 2) * sizeof *lines);
        lines[count++] = strdup(buffer);
    }
    fclose(corpus);
    if (count == 0) { fprintf(stderr, "empty corpus\n"); return 1; }

    // Pre-build packets of perPacket lines each.
    size_t packetCount = count / perPacket ? count / perPacket : 1;
    char **packets = malloc(packetCount * sizeof *packets);
    size_t *lengths = malloc(packetCount * sizeof *lengths);
    for (size_t p = 0; p < packetCount; p++) {
        size_t length = 0;
        packets[p] = malloc(perPacket * 4096);
        for (int l = 0; l < perPacket; l++) {
            const char *line = lines[(p * perPacket + l) % count];
            if (l) packets[p][length++] = '\n';
            memcpy(packets[p] + length, line, strlen(line));
            length += strlen(line);
        }
        lengths[p] = length;
    }

    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    inet_pton(AF_INET, argv[1], &address.sin_addr);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) { perror("connect"); return 1; }

    enum { BATCH = 64 };
    struct mmsghdr messages[BATCH];
    struct iovec vectors[BATCH];
    unsigned long long sentPackets = 0, sentLines = 0;
    double start = now(), deadline = start + seconds;
    size_t next = 0;
    while (1) {
        double t = now();
        if (t >= deadline) break;
        int batch = BATCH;
        if (rate > 0) {
            // Pace: never ahead of rate * elapsed.
            double allowed = rate * (t - start) - (double)sentLines;
            if (allowed < perPacket) { struct timespec pause = {0, 50000}; nanosleep(&pause, 0); continue; }
            if (allowed / perPacket < batch) batch = (int)(allowed / perPacket);
        }
        for (int i = 0; i < batch; i++) {
            vectors[i].iov_base = packets[next];
            vectors[i].iov_len = lengths[next];
            memset(&messages[i], 0, sizeof messages[i]);
            messages[i].msg_hdr.msg_iov = &vectors[i];
            messages[i].msg_hdr.msg_iovlen = 1;
            next = (next + 1) % packetCount;
        }
        int sent = sendmmsg(fd, messages, batch, 0);
        if (sent > 0) {
            sentPackets += sent;
            sentLines += (unsigned long long)sent * perPacket;
        }
    }
    printf("%llu %llu\n", sentPackets, sentLines);
    return 0;
}
