#ifndef MASTIFF_CCURL_SHIM_H
#define MASTIFF_CCURL_SHIM_H
// libcurl is loaded when first used (dlopen of libcurl.so.4, from Debian's libcurl4), not linked:
// like libpq it brings OpenSSL, GnuTLS, Kerberos and LDAP, resident memory a mastiff that never
// makes an HTTP request does not need. Swift calls the mastiff_curl_* wrappers below; they also
// give typed forms of the variadic curl_easy_setopt and curl_easy_getinfo, which Swift cannot call.
#include <dlfcn.h>
#include <pthread.h>
#include <curl/curl.h>
#include <string.h>

// The loader's state. Function-local, because Swift emits the bodies of inline functions from
// a module header but not file-scope static variables.
struct mastiff_curl_state {
    pthread_once_t once;
    void *handle;
    const char *error;
};

static inline struct mastiff_curl_state *mastiff_curl_state(void) {
    static struct mastiff_curl_state state = {PTHREAD_ONCE_INIT, 0, 0};
    return &state;
}

static inline void mastiff_curl_open(void) {
    struct mastiff_curl_state *state = mastiff_curl_state();
    state->handle = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!state->handle) {
        state->error = dlerror();
        return;
    }
    CURLcode (*global_init)(long) = (CURLcode (*)(long))dlsym(state->handle, "curl_global_init");
    if (global_init) global_init(CURL_GLOBAL_DEFAULT);
}

// NULL when the library could be loaded, else the loader's reason.
static inline const char *mastiff_curl_load_error(void) {
    struct mastiff_curl_state *state = mastiff_curl_state();
    pthread_once(&state->once, mastiff_curl_open);
    return state->handle ? 0 : (state->error ? state->error : "libcurl.so.4: cannot be loaded");
}

static inline void *mastiff_curl_symbol(const char *name) {
    struct mastiff_curl_state *state = mastiff_curl_state();
    pthread_once(&state->once, mastiff_curl_open);
    return state->handle ? dlsym(state->handle, name) : 0;
}

// `function`: the libcurl function `name`, looked up once (typeof does not reference the symbol).
#define MASTIFF_CURL_FUNCTION(name)     \
    static __typeof__(&name) function; \
    if (!function) function = (__typeof__(&name))mastiff_curl_symbol(#name);

static inline CURL *mastiff_curl_easy_init(void) {
    MASTIFF_CURL_FUNCTION(curl_easy_init)
    return function();
}
static inline void mastiff_curl_easy_cleanup(CURL *h) {
    MASTIFF_CURL_FUNCTION(curl_easy_cleanup)
    function(h);
}
static inline CURLcode mastiff_curl_easy_perform(CURL *h) {
    MASTIFF_CURL_FUNCTION(curl_easy_perform)
    return function(h);
}
static inline const char *mastiff_curl_easy_strerror(CURLcode code) {
    MASTIFF_CURL_FUNCTION(curl_easy_strerror)
    return function(code);
}
static inline struct curl_slist *mastiff_curl_slist_append(struct curl_slist *list, const char *text) {
    MASTIFF_CURL_FUNCTION(curl_slist_append)
    return function(list, text);
}
static inline void mastiff_curl_slist_free_all(struct curl_slist *list) {
    MASTIFF_CURL_FUNCTION(curl_slist_free_all)
    function(list);
}

static inline __typeof__(&curl_easy_setopt) mastiff_curl_setopt(void) {
    MASTIFF_CURL_FUNCTION(curl_easy_setopt)
    return function;
}
static inline CURLcode mastiff_curl_setopt_long(CURL *h, CURLoption o, long v) { return mastiff_curl_setopt()(h, o, v); }
static inline CURLcode mastiff_curl_setopt_string(CURL *h, CURLoption o, const char *v) { return mastiff_curl_setopt()(h, o, v); }
static inline CURLcode mastiff_curl_setopt_pointer(CURL *h, CURLoption o, void *v) { return mastiff_curl_setopt()(h, o, v); }
static inline CURLcode mastiff_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return mastiff_curl_setopt()(h, o, v); }
static inline CURLcode mastiff_curl_setopt_write_function(CURL *h, size_t (*f)(char *, size_t, size_t, void *)) {
    return mastiff_curl_setopt()(h, CURLOPT_WRITEFUNCTION, f);
}
static inline CURLcode mastiff_curl_setopt_header_function(CURL *h, size_t (*f)(char *, size_t, size_t, void *)) {
    return mastiff_curl_setopt()(h, CURLOPT_HEADERFUNCTION, f);
}
static inline CURLcode mastiff_curl_setopt_read_function(CURL *h, size_t (*f)(char *, size_t, size_t, void *)) {
    return mastiff_curl_setopt()(h, CURLOPT_READFUNCTION, f);
}
static inline CURLcode mastiff_curl_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return mastiff_curl_setopt()(h, o, v); }
static inline CURLcode mastiff_curl_getinfo_long(CURL *h, CURLINFO i, long *v) {
    MASTIFF_CURL_FUNCTION(curl_easy_getinfo)
    return function(h, i, v);
}
static inline CURLcode mastiff_curl_getinfo_double(CURL *h, CURLINFO i, double *v) {
    MASTIFF_CURL_FUNCTION(curl_easy_getinfo)
    return function(h, i, v);
}
static inline CURLcode mastiff_curl_getinfo_string(CURL *h, CURLINFO i, char **v) {
    MASTIFF_CURL_FUNCTION(curl_easy_getinfo)
    return function(h, i, v);
}
// The leaf certificate's "Expire date" (CURLOPT_CERTINFO must have been set), or NULL.
static inline const char *mastiff_curl_leaf_expire_date(CURL *h) {
    MASTIFF_CURL_FUNCTION(curl_easy_getinfo)
    struct curl_certinfo *info = 0;
    if (function(h, CURLINFO_CERTINFO, &info) != CURLE_OK || !info || info->num_of_certs < 1) return 0;
    for (struct curl_slist *item = info->certinfo[0]; item; item = item->next) {
        if (strncmp(item->data, "Expire date:", 12) == 0) return item->data + 12;
    }
    return 0;
}

#undef MASTIFF_CURL_FUNCTION
#endif
