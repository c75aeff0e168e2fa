#ifndef MASTIFF_CHIREDIS_SHIM_H
#define MASTIFF_CHIREDIS_SHIM_H
// Debian 12 ships hiredis 0.14 with its headers under hiredis/. redisCommand is variadic and cannot
// be called from Swift; callers use redisCommandArgv, which is also binary-safe.
#include <hiredis/hiredis.h>
#include <sys/time.h>

static inline redisContext *mastiff_redis_connect_tcp(const char *host, int port, long timeout_ms) {
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    return redisConnectWithTimeout(host, port, tv);
}

static inline redisContext *mastiff_redis_connect_unix(const char *path, long timeout_ms) {
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    return redisConnectUnixWithTimeout(path, tv);
}

static inline int mastiff_redis_set_timeout(redisContext *c, long timeout_ms) {
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    return redisSetTimeout(c, tv);
}
#endif
