#ifndef MASTIFF_CYAML_SHIM_H
#define MASTIFF_CYAML_SHIM_H
// libyaml's event API: mastiff composes its own node tree so that every value keeps its
// line and column for configuration errors.
#include <yaml.h>
#endif
