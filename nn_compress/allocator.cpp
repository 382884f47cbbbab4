#include <malloc.h>

#include "nn_compress/backends.hpp"

namespace linksim {

void tune_allocator() {
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
}

}  // namespace linksim
