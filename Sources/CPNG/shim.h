// libpng's simplified API (png_image_*): no setjmp/longjmp crosses Swift frames.
#include <png.h>
static inline size_t cpng_image_size(const png_image *img) { return PNG_IMAGE_SIZE(*img); }
