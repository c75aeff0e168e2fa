#ifndef MASTIFF_CCRYPT_SHIM_H
#define MASTIFF_CCRYPT_SHIM_H
// libxcrypt (Debian's libcrypt1): crypt_r with bcrypt ($2b$, $2y$, $2a$) hashes, as htpasswd -B
// and exporter-toolkit's web configuration write them.
#include <crypt.h>
#endif
