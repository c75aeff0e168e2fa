#ifndef MASTIFF_CLIBPQ_SHIM_H
#define MASTIFF_CLIBPQ_SHIM_H
// libpq is loaded when first used (dlopen of libpq.so.5, from Debian's libpq5), not linked: it
// brings OpenSSL, GnuTLS, Kerberos and LDAP, about 5 MiB resident that a mastiff without a
// PostgreSQL or PgBouncer collector never needs. Swift calls the mastiff_PQ* wrappers below;
// calling a PQ* function directly would fail to link, which keeps it that way.
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <postgresql/libpq-fe.h>

// The loader's state. Function-local, because Swift emits the bodies of inline functions from
// a module header but not file-scope static variables.
struct mastiff_pq_state {
    pthread_once_t once;
    void *handle;
    const char *error;
};

static inline struct mastiff_pq_state *mastiff_pq_state(void) {
    static struct mastiff_pq_state state = {PTHREAD_ONCE_INIT, 0, 0};
    return &state;
}

static inline void mastiff_pq_open(void) {
    struct mastiff_pq_state *state = mastiff_pq_state();
    state->handle = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (!state->handle) {
        state->error = dlerror();
        return;
    }
}

// NULL when the library could be loaded, else the loader's reason.
static inline const char *mastiff_pq_load_error(void) {
    struct mastiff_pq_state *state = mastiff_pq_state();
    pthread_once(&state->once, mastiff_pq_open);
    return state->handle ? 0 : (state->error ? state->error : "libpq.so.5: cannot be loaded");
}

static inline void *mastiff_pq_symbol(const char *name) {
    struct mastiff_pq_state *state = mastiff_pq_state();
    pthread_once(&state->once, mastiff_pq_open);
    return state->handle ? dlsym(state->handle, name) : 0;
}

#define MASTIFF_PQ(ret, name, params, args)                                  \
    static inline ret mastiff_##name params {                                \
        static ret (*function) params;                                       \
        if (!function) function = (ret (*) params)mastiff_pq_symbol(#name); \
        return function args;                                                \
    }
#define MASTIFF_PQ_VOID(name, params, args)                                   \
    static inline void mastiff_##name params {                                \
        static void (*function) params;                                       \
        if (!function) function = (void (*) params)mastiff_pq_symbol(#name); \
        function args;                                                        \
    }

MASTIFF_PQ(PGconn *, PQconnectdbParams, (const char *const *keywords, const char *const *values, int expand), (keywords, values, expand))
MASTIFF_PQ(ConnStatusType, PQstatus, (const PGconn *conn), (conn))
MASTIFF_PQ(char *, PQerrorMessage, (const PGconn *conn), (conn))
MASTIFF_PQ(int, PQsocket, (const PGconn *conn), (conn))
MASTIFF_PQ(int, PQserverVersion, (const PGconn *conn), (conn))
MASTIFF_PQ(int, PQsendQuery, (PGconn *conn, const char *query), (conn, query))
MASTIFF_PQ(int, PQisBusy, (PGconn *conn), (conn))
MASTIFF_PQ(int, PQconsumeInput, (PGconn *conn), (conn))
MASTIFF_PQ(PGresult *, PQgetResult, (PGconn *conn), (conn))
MASTIFF_PQ_VOID(PQfinish, (PGconn *conn), (conn))
MASTIFF_PQ_VOID(PQclear, (PGresult *result), (result))
MASTIFF_PQ(ExecStatusType, PQresultStatus, (const PGresult *result), (result))
MASTIFF_PQ(char *, PQresultErrorMessage, (const PGresult *result), (result))
MASTIFF_PQ(char *, PQresultErrorField, (const PGresult *result, int field), (result, field))
MASTIFF_PQ(int, PQntuples, (const PGresult *result), (result))
MASTIFF_PQ(int, PQnfields, (const PGresult *result), (result))
MASTIFF_PQ(char *, PQfname, (const PGresult *result, int field), (result, field))
MASTIFF_PQ(char *, PQgetvalue, (const PGresult *result, int row, int field), (result, row, field))
MASTIFF_PQ(int, PQgetisnull, (const PGresult *result, int row, int field), (result, row, field))
MASTIFF_PQ(PGcancel *, PQgetCancel, (PGconn *conn), (conn))
MASTIFF_PQ_VOID(PQfreeCancel, (PGcancel *cancel), (cancel))
MASTIFF_PQ(int, PQcancel, (PGcancel *cancel, char *buffer, int size), (cancel, buffer, size))
// The extended protocol: one statement only (the server refuses a second), values passed apart
// from the SQL text as parameters.
MASTIFF_PQ(int, PQsendQueryParams,
           (PGconn *conn, const char *command, int nParams, const Oid *paramTypes, const char *const *paramValues,
            const int *paramLengths, const int *paramFormats, int resultFormat),
           (conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats, resultFormat))

#undef MASTIFF_PQ
#undef MASTIFF_PQ_VOID
#endif
