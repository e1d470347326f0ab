#include "malloc_tuning.h"
#if defined(__linux__)
#include <malloc.h>
void lenspipe_keep_freed_memory(void) {
    mallopt(M_ARENA_MAX, 1);
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 0x7fffffff);
}
void lenspipe_release_freed_memory(void) { malloc_trim(0); }
#else
void lenspipe_keep_freed_memory(void) {}
void lenspipe_release_freed_memory(void) {}
#endif
