// A C face for RE2 (Debian's libre2), the engine Go's regexp and so Prometheus and
// statsd_exporter follow: RE2 syntax, leftmost-first matches, linear time, bounded memory.
#ifndef MASTIFF_CRE2_H
#define MASTIFF_CRE2_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mastiff_re2 mastiff_re2;

/// Compiles `pattern` (UTF-8, `length` bytes). NULL when RE2 refuses it; then `error` holds
/// RE2's reason (NUL-terminated, cut to `error_capacity`).
mastiff_re2 *mastiff_re2_compile(const char *pattern, size_t length, char *error, size_t error_capacity);

void mastiff_re2_free(mastiff_re2 *regex);

/// Capturing groups in the pattern.
int mastiff_re2_groups(const mastiff_re2 *regex);

/// The name of capturing group `index` (1-based) copied into `name` (NUL-terminated, cut to
/// `capacity`): its length, or -1 for an unnamed group.
int mastiff_re2_group_name(const mastiff_re2 *regex, int index, char *name, size_t capacity);

/// The leftmost-first match in `text` at or after byte `start` (`^` and `\b` still see the
/// whole text, as Go's regexp does): 1 and `spans` filled with start, end byte offsets for the
/// whole match then each group (-1, -1 for a group that took no part), for as many as
/// `span_pairs` pairs; 0 when there is no match.
int mastiff_re2_match(const mastiff_re2 *regex, const char *text, size_t length, size_t start, long *spans, int span_pairs);

#ifdef __cplusplus
}
#endif

#endif
