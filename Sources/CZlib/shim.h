#ifndef MASTIFF_CZLIB_SHIM_H
#define MASTIFF_CZLIB_SHIM_H
#include <zlib.h>
// deflateInit2 is a macro; windowBits 15 + 16 asks zlib for a gzip wrapper.
static inline int mastiff_deflate_init_gzip(z_stream *s, int level) {
    return deflateInit2(s, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}
#endif
