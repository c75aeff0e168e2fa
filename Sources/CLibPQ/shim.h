#ifndef MASTIFF_CLIBPQ_SHIM_H
#define MASTIFF_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
