#include "cre2.h"

#include <re2/re2.h>

#include <cstring>
#include <map>
#include <string>
#include <new>
#include <vector>

struct mastiff_re2 {
    re2::RE2 regex;
    mastiff_re2(re2::StringPiece pattern, const re2::RE2::Options &options) : regex(pattern, options) {}
};

extern "C" mastiff_re2 *mastiff_re2_compile(const char *pattern, size_t length, char *error, size_t error_capacity) {
    re2::RE2::Options options;
    // Errors are returned, not printed to stderr; Go's syntax (Perl classes, (?i) flags),
    // leftmost-first like Go; RE2's default 8 MiB bound on the compiled program.
    options.set_log_errors(false);
    options.set_encoding(re2::RE2::Options::EncodingUTF8);
    mastiff_re2 *compiled = new (std::nothrow) mastiff_re2(re2::StringPiece(pattern, length), options);
    if (compiled == nullptr) {
        if (error_capacity > 0) std::strncpy(error, "out of memory", error_capacity - 1), error[error_capacity - 1] = 0;
        return nullptr;
    }
    if (!compiled->regex.ok()) {
        if (error_capacity > 0) {
            std::strncpy(error, compiled->regex.error().c_str(), error_capacity - 1);
            error[error_capacity - 1] = 0;
        }
        delete compiled;
        return nullptr;
    }
    return compiled;
}

extern "C" void mastiff_re2_free(mastiff_re2 *regex) { delete regex; }

extern "C" int mastiff_re2_groups(const mastiff_re2 *regex) { return regex->regex.NumberOfCapturingGroups(); }

extern "C" int mastiff_re2_group_name(const mastiff_re2 *regex, int index, char *name, size_t capacity) {
    const std::map<int, std::string> &names = regex->regex.CapturingGroupNames();
    auto found = names.find(index);
    if (found == names.end() || capacity == 0) return -1;
    std::strncpy(name, found->second.c_str(), capacity - 1);
    name[capacity - 1] = 0;
    return static_cast<int>(found->second.size());
}

extern "C" int mastiff_re2_match(const mastiff_re2 *regex, const char *text, size_t length, size_t start, long *spans, int span_pairs) {
    if (start > length) return 0;
    // An empty Swift string may come without storage; RE2 needs a real position for it.
    if (text == nullptr) text = "";
    int wanted = span_pairs < 1 ? 1 : span_pairs;
    std::vector<re2::StringPiece> groups(static_cast<size_t>(wanted));
    re2::StringPiece input(text, length);
    if (!regex->regex.Match(input, start, length, re2::RE2::UNANCHORED, groups.data(), wanted)) return 0;
    for (int index = 0; index < span_pairs; index++) {
        const re2::StringPiece &group = groups[static_cast<size_t>(index)];
        if (group.data() == nullptr) {
            spans[2 * index] = -1;
            spans[2 * index + 1] = -1;
        } else {
            spans[2 * index] = static_cast<long>(group.data() - text);
            spans[2 * index + 1] = static_cast<long>(group.data() - text + group.size());
        }
    }
    return 1;
}
